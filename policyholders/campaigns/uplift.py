"""The uplift of a campaign over its control group, with a confidence interval.

The uplift is the difference of two proportions: the conversion rate of the treated members (every member not
held out: intention to treat) less that of the control group. Its interval is Newcombe's hybrid score interval
(method 10 of R. G. Newcombe, "Interval estimation for the difference between independent proportions: comparison
of eleven methods", Statistics in Medicine 17, 873–890, 1998), built from the Wilson score interval of each rate
(E. B. Wilson, JASA 22, 209–212, 1927). It stays within [-1, 1], behaves with small groups and rates near 0 or 1
(where the textbook Wald interval does not), and needs no library: a few lines of arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import sqrt
from statistics import NormalDist

#: the two-sided confidence level of the intervals shown
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Uplift:
    """Treated rate less control rate, and its interval (fractions: 0.05 is five points)."""

    treated_rate: float
    control_rate: float
    difference: float
    low: float
    high: float

    @property
    def significant(self) -> bool:
        """The interval excludes zero: the campaign did better (or worse) than doing nothing."""
        return self.low > 0 or self.high < 0


def wilson_interval(successes: int, trials: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Wilson score interval of ``successes`` out of ``trials`` (``trials`` > 0)."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    rate = successes / trials
    centre = (successes + z * z / 2) / (trials + z * z)
    half = z * sqrt(trials) / (trials + z * z) * sqrt(rate * (1 - rate) + z * z / (4 * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


def uplift(treated_converted: int, treated: int, control_converted: int, control: int,
           confidence: float = CONFIDENCE) -> Uplift | None:
    """The uplift of the treated over the control with Newcombe's hybrid score interval; ``None`` when either
    group is empty (no control group: nothing to compare with)."""
    if treated <= 0 or control <= 0:
        return None
    p1, p2 = treated_converted / treated, control_converted / control
    l1, u1 = wilson_interval(treated_converted, treated, confidence)
    l2, u2 = wilson_interval(control_converted, control, confidence)
    difference = p1 - p2
    low = difference - sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = difference + sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Uplift(p1, p2, difference, low, high)
