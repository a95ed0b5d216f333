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

#: what the preview of a kind's template renders with, until the admin types another payload
SAMPLE_PAYLOADS: dict[str, dict] = {
    "renewal_reminder": {"policyholder_name": "Li Wei", "policy_number": "P2026000123", "product_name": "Motor",
                         "expiry_date": "2026-12-22", "days_left": 30, "offset_days": 30, "agent_name": "Zhang Min",
                         "agent_phone": "+86 139 0000 0001"},
    "renewal_escalation": {"manager_name": "Wang Fang", "policyholder_name": "Li Wei", "policy_number": "P2026000123",
                           "expiry_date": "2026-12-22", "days_left": 14, "agent_name": "Zhang Min"},
    "birthday": {"policyholder_name": "Li Wei", "agent_name": "Zhang Min"},
    GENERIC: {"policyholder_name": "Li Wei", "policy_number": "P2026000123"},
}


def sample_payload(kind: str) -> dict:
    """The sample payload of ``kind`` (the generic one for a kind without its own)."""
    return dict(SAMPLE_PAYLOADS.get(kind, SAMPLE_PAYLOADS[GENERIC]))
