"""The built-in wording of the outbox messages, in English and Simplified Chinese, and sample payloads.

These are seeded into :class:`~insurecrm.outbox.models.MessageTemplate` rows (where admins edit them) by
:func:`insurecrm.outbox.templates.ensure_default_templates`, and used as they are when a database has no row
yet. The variables each kind may use are the keys of its payload, listed in ``docs/outbox.md``; optional ones
are written ``{% if agent_name|default %}`` so that a payload without them still renders.
"""

from __future__ import annotations

GENERIC = "generic"
#: the channels whose messages are rendered from templates (tasks are written by their job and read by agents)
TEMPLATE_CHANNELS = ("email", "sms")

#: (kind, language, channel) → (subject, body)
DEFAULT_TEMPLATES: dict[tuple[str, str, str], tuple[str | None, str]] = {
    ("renewal_reminder", "en", "email"): (
        "Your policy {{ policy_number }} expires on {{ expiry_date|day }}",
        """Dear {{ policyholder_name }},

Your {{ product_name|default("insurance") }} policy {{ policy_number }} expires on {{ expiry_date|day }}
{%- if days_left|default %}, in {{ days_left }} days{% endif %}.
To stay covered without a gap, please renew it before that date.

{% if agent_name|default %}Your agent {{ agent_name }}{% if agent_phone|default %} ({{ agent_phone }}){% endif %} \
will be glad to help.{% else %}Your agent will be glad to help.{% endif %}

Kind regards,
Your insurance service team
""",
    ),
    ("renewal_reminder", "en", "sms"): (
        None,
        "{{ policyholder_name }}, your policy {{ policy_number }} expires on {{ expiry_date|day }}. Please renew to "
        "stay covered.{% if agent_name|default %} Your agent: {{ agent_name }}{% if agent_phone|default %} "
        "{{ agent_phone }}{% endif %}.{% endif %}",
    ),
    ("renewal_reminder", "zh", "email"): (
        "您的保单 {{ policy_number }} 将于 {{ expiry_date|day }} 到期",
        """尊敬的 {{ policyholder_name }}：

您的{{ product_name|default("") }}保单 {{ policy_number }} 将于 {{ expiry_date|day }} 到期
{%- if days_left|default %}（还有 {{ days_left }} 天）{% endif %}。
为保障不中断，请在到期前办理续保。

{% if agent_name|default %}您的代理人 {{ agent_name }}{% if agent_phone|default %}（{{ agent_phone }}）{% endif %}\
随时为您服务。{% else %}您的代理人随时为您服务。{% endif %}

此致
敬礼
您的保险服务团队
""",
    ),
    ("renewal_reminder", "zh", "sms"): (
        None,
        "【续保提醒】{{ policyholder_name }}您好，您的保单{{ policy_number }}将于{{ expiry_date|day }}到期，"
        "请及时续保。"
        "{% if agent_name|default %}代理人：{{ agent_name }}{% if agent_phone|default %} {{ agent_phone }}{% endif %}"
        "{% endif %}",
    ),
    ("renewal_escalation", "en", "email"): (
        "Renewal not contacted: policy {{ policy_number }} expires on {{ expiry_date|day }}",
        """{% if manager_name|default %}Dear {{ manager_name }},{% else %}Hello,{% endif %}

The renewal of policy {{ policy_number }} ({{ policyholder_name }}) is due on {{ expiry_date|day }}
{%- if days_left|default %}, in {{ days_left }} days{% endif %}, and nobody has contacted the policyholder yet.
{% if agent_name|default %}It is assigned to {{ agent_name }}.{% else %}It sits in the branch pool, with no agent \
assigned.{% endif %}

Please see that it is worked: it is on your renewal board in InsureCRM.
""",
    ),
    ("renewal_escalation", "en", "sms"): (
        None,
        "Renewal not contacted: policy {{ policy_number }} ({{ policyholder_name }}) expires on "
        "{{ expiry_date|day }}.{% if agent_name|default %} Agent: {{ agent_name }}.{% else %} In the branch pool."
        "{% endif %}",
    ),
    ("renewal_escalation", "zh", "email"): (
        "续保未跟进：保单 {{ policy_number }} 将于 {{ expiry_date|day }} 到期",
        """{% if manager_name|default %}{{ manager_name }}，您好：{% else %}您好：{% endif %}

保单 {{ policy_number }}（{{ policyholder_name }}）将于 {{ expiry_date|day }} 到期
{%- if days_left|default %}（还有 {{ days_left }} 天）{% endif %}，至今尚无人联系保户。
{% if agent_name|default %}该续保件由 {{ agent_name }} 负责。{% else %}该续保件在分支机构公共池中，\
尚未分配代理人。{% endif %}

请督促跟进：该件已列入您在 InsureCRM 中的续保看板。
""",
    ),
    ("renewal_escalation", "zh", "sms"): (
        None,
        "【续保督办】保单{{ policy_number }}（{{ policyholder_name }}）将于{{ expiry_date|day }}到期，尚未联系保户。"
        "{% if agent_name|default %}负责人：{{ agent_name }}。{% else %}在公共池中，未分配代理人。{% endif %}",
    ),
    ("birthday", "en", "email"): (
        "Happy birthday, {{ policyholder_name }}!",
        """Dear {{ policyholder_name }},

Everyone at your insurance service team wishes you a very happy birthday and a healthy, safe year ahead.
{% if agent_name|default %}
With warm wishes from your agent, {{ agent_name }}.
{% endif %}
""",
    ),
    ("birthday", "en", "sms"): (
        None,
        "Happy birthday, {{ policyholder_name }}! Wishing you a healthy, safe year ahead."
        "{% if agent_name|default %} — {{ agent_name }}{% endif %}",
    ),
    ("birthday", "zh", "email"): (
        "{{ policyholder_name }}，生日快乐！",
        """尊敬的 {{ policyholder_name }}：

值此生日之际，您的保险服务团队全体同仁祝您生日快乐，身体健康，平安顺遂！
{% if agent_name|default %}
您的代理人 {{ agent_name }} 敬上
{% endif %}
""",
    ),
    ("birthday", "zh", "sms"): (
        None,
        "【生日祝福】{{ policyholder_name }}，祝您生日快乐，身体健康，平安顺遂！"
        "{% if agent_name|default %}——{{ agent_name }}{% endif %}",
    ),
    (GENERIC, "en", "email"): (
        "{{ subject|default('A message about your insurance') }}",
        """{% if policyholder_name|default %}Dear {{ policyholder_name }},{% else %}Hello,{% endif %}

{{ message|default("We have news about your insurance. Your agent will contact you shortly.") }}
{% if policy_number|default %}
Policy: {{ policy_number }}
{% endif %}
Kind regards,
Your insurance service team
""",
    ),
    (GENERIC, "en", "sms"): (
        None,
        "{{ message|default('We have news about your insurance. Your agent will contact you shortly.') }}"
        "{% if policy_number|default %} Policy {{ policy_number }}.{% endif %}",
    ),
    (GENERIC, "zh", "email"): (
        "{{ subject|default('关于您保险的消息') }}",
        """{% if policyholder_name|default %}尊敬的 {{ policyholder_name }}：{% else %}您好：{% endif %}

{{ message|default("关于您的保险有新的消息，您的代理人将尽快与您联系。") }}
{% if policy_number|default %}
保单号：{{ policy_number }}
{% endif %}
您的保险服务团队
""",
    ),
    (GENERIC, "zh", "sms"): (
        None,
        "{{ message|default('关于您的保险有新的消息，您的代理人将尽快与您联系。') }}"
        "{% if policy_number|default %}保单号：{{ policy_number }}。{% endif %}",
    ),
}

#: messages to staff rather than to policyholders: their built-in wording is used where no template row exists (an
#: admin may add one of the kind to reword it), but not seeded, so the seeded set stays that of policyholders' messages
STAFF_TEMPLATES: dict[tuple[str, str, str], tuple[str | None, str]] = {
    ("sales_report", "en", "email"): (
        "{% if period == 'day' %}Daily{% elif period == 'week' %}Weekly{% else %}Monthly{% endif %} sales report, "
        "{{ unit_name }}: {{ start|day }}{% if end != start %} – {{ end|day }}{% endif %}",
        """Hello {{ manager_name }},

here is the {% if period == 'day' %}daily{% elif period == 'week' %}weekly{% else %}monthly{% endif %} sales report \
of {{ unit_name }} for {{ start|day }}{% if end != start %} to {{ end|day }}{% endif %}.

New opportunities: {{ new_opportunities }} ({{ new_premium|money }} expected premium)
Won: {{ won }} ({{ won_premium|money }})
Lost: {{ lost }} ({{ lost_premium|money }})
Stage moves: {{ stage_moves }}
Activities planned: {{ activities_planned }}, done: {{ activities_done }}
Renewals worked: {{ renewals_worked }}, renewed: {{ renewals_renewed }}

The report by agent is attached as a PDF.

InsureCRM
""",
    ),
    ("sales_report", "zh", "email"): (
        "{% if period == 'day' %}销售日报{% elif period == 'week' %}销售周报{% else %}销售月报{% endif %}："
        "{{ unit_name }} {{ start|day }}{% if end != start %}至{{ end|day }}{% endif %}",
        """{{ manager_name }}，您好：

以下是{{ unit_name }}{{ start|day }}{% if end != start %}至{{ end|day }}{% endif %}的\
{% if period == 'day' %}销售日报{% elif period == 'week' %}销售周报{% else %}销售月报{% endif %}。

新增销售机会：{{ new_opportunities }}（预期保费 {{ new_premium|money }}）
成交：{{ won }}（{{ won_premium|money }}）
丢单：{{ lost }}（{{ lost_premium|money }}）
阶段推进：{{ stage_moves }}
计划活动：{{ activities_planned }}，完成活动：{{ activities_done }}
跟进续保：{{ renewals_worked }}，已续保：{{ renewals_renewed }}

按代理人的完整报表见附件（PDF）。

InsureCRM
""",
    ),
}

#: what the preview of a kind's template renders with, until the admin types another payload
SAMPLE_PAYLOADS: dict[str, dict] = {
    "renewal_reminder": {"policyholder_name": "Li Wei", "policy_number": "P2026000123", "product_name": "Motor",
                         "expiry_date": "2026-12-22", "days_left": 30, "offset_days": 30, "agent_name": "Zhang Min",
                         "agent_phone": "+86 139 0000 0001"},
    "renewal_escalation": {"manager_name": "Wang Fang", "policyholder_name": "Li Wei", "policy_number": "P2026000123",
                           "expiry_date": "2026-12-22", "days_left": 14, "agent_name": "Zhang Min"},
    "birthday": {"policyholder_name": "Li Wei", "agent_name": "Zhang Min"},
    GENERIC: {"policyholder_name": "Li Wei", "policy_number": "P2026000123"},
    "sales_report": {"period": "week", "start": "2026-11-23", "end": "2026-11-29", "unit_name": "Shanghai branch",
                     "manager_name": "Wang Fang", "new_opportunities": 12, "new_premium": "36000.00", "won": 3,
                     "won_premium": "9800.00", "lost": 1, "lost_premium": "1200.00", "stage_moves": 17,
                     "activities_planned": 40, "activities_done": 35, "renewals_worked": 22, "renewals_renewed": 9},
}


def sample_payload(kind: str) -> dict:
    """The sample payload of ``kind`` (the generic one for a kind without its own)."""
    return dict(SAMPLE_PAYLOADS.get(kind, SAMPLE_PAYLOADS[GENERIC]))
