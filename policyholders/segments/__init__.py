"""Segments: saved filters over policyholders (any profile field, tags, age, birthday month, products and lines
held, policy status, renewals due, contribution × loyalty quadrant, churn score, consent), counted and listed in
SQL inside the reader's scope, for pages, exports, the API and the campaigns that will target them."""
