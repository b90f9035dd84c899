"""The reference of every campaign key (docs/campaigns.md), generated from the campaign schema.

Keys, types, allowed values, bounds and defaults come from the pydantic models' JSON schema, so the
page cannot fall behind them; ``KEY_NOTES`` adds a line of meaning per key. Regenerate the page with
``python -m coupongen.config.reference > docs/campaigns.md``; a test compares the two.
"""

from __future__ import annotations

import json
from typing import Any

from coupongen.config.campaigns import CampaignConfig

KEY_NOTES: dict[str, str] = {
    "name": "the campaign's name: coupons, files and reports use it",
    "type": "the offer: who is chosen and what the reward applies to",
    "description": "a line for people reading the file and the report",
    "enabled": "false keeps the campaign in the job without issuing",
    "eligibility": "who may receive the offer",
    "reward": "what the coupon gives (docs/pos.md says how the tills apply each type)",
    "min_basket": "basket value the coupon needs to apply",
    "valid_from_offset_days": "days after the run date the coupon becomes valid",
    "valid_days": "days the coupon stays valid",
    "max_uses": "times one coupon may be redeemed (a referral code: by friends in all)",
    "expected_redemption_rate": "share of coupons expected to be used: the expected cost",
    "rank_by": "priority: the offer type's order; expected_value: highest first, none below zero",
    "budget": "expected cost allowed per night; none: no limit",
    "holdout_share": "share of chosen customers kept as a control group",
    "frequency_cap_days": "days before the same customer may get this offer type again",
    "channels": "the only channels its coupons travel by, in order of preference",
    "code": "how codes and barcodes look (docs/codes.md)",
    "eligibility.segments": "RFM segments allowed; empty: any",
    "eligibility.lifecycle": "lifecycle stages allowed; empty: any",
    "eligibility.nps": "NPS classes allowed; empty: any",
    "eligibility.exclude_nps": "NPS classes refused",
    "eligibility.min_spend": "the customer's spend needed",
    "eligibility.r_score": "RFM recency score (1 to the job's bins; higher: more recent); a filter",
    "eligibility.f_score": "RFM frequency score (1 to the job's bins); a filter",
    "eligibility.m_score": "RFM monetary score (1 to the job's bins); a filter",
    "eligibility.spend": "the customer's spend in the look-back window; a filter",
    "eligibility.visits": "the customer's visits (receipts), all time; a filter",
    "eligibility.age": "full years on the run date, from birth_date (no birth date: not admitted); a filter",
    "eligibility.home_store": "the store of most of the customer's visits in the look-back window; a filter",
    "eligibility.customers_file": "a file of customer ids or card numbers, a line each, beside the campaign",
    "eligibility.columns": 'filters on the customer file\'s own columns by name (`columns.tier = "gold"`)',
    "per_customer": "at most `max` offers of this campaign per customer in `days` days, holdout included",
    "per_customer.max": "offers (coupons and holdout places) a customer may get within `days`",
    "per_customer.days": "the window, in days before the run date",
    "lifetime_budget": "expected cost allowed over all nights together; none: no limit",
    "start": "first night the campaign runs (YYYY-MM-DD); none: from any night",
    "end": "last night the campaign runs (YYYY-MM-DD, included); none: no end",
    "target": "what the reward applies to: a product set and/or a rule picking the product",
    "target.skus": "products by sku",
    "target.categories": "products by category (only categories listed: the coupon is on the category)",
    "target.brands": "products by brand",
    "target.name_patterns": "products whose name matches one of these regular expressions (any case)",
    "target.rule": "picks a product per customer (in the set, else of all): model, favourite, replenishment",
    "exclusive": "its customers get no other campaign's offer that night; it takes no one another chose",
    "messages": "the campaign's own texts per locale (`[messages.en_US]`), instead of the job's templates",
    "reward.type": "percent, amount, points, multiplier, or an item reward",
    "reward.value": "percent off, money off, points, multiplier; item rewards: percent off the items",
    "reward.buy": "buy_x_get_y, cheapest_free: items of the target to buy",
    "reward.get": "free_product, buy_x_get_y, cheapest_free: items rewarded (default 1 but buy_x_get_y)",
    "reward.referrer_reward": "referral: what the code's owner earns on each friend's first use",
    "reward.referrer_reward.type": "points or amount",
    "reward.referrer_reward.value": "points, or money in the job's currency",
    "reward.uses_per_friend": "referral: accepted uses of the code per friend's card",
    "reward.min_value": "a target_price reward: at least this per offer (points, or money)",
    "reward.max_value": "a target_price reward: at most this per offer (points, or money)",
    "code.prefix": "characters every code starts with",
    "code.suffix": "characters every code ends with, after the check character",
    "code.pattern": "layout with separators: # digit, ? character, the last ? the check character",
    "code.import_file": "CSV of pre-printed or partner codes issued instead of drawn ones",
    "code.length": "random characters in a code",
    "code.alphabet": "characters codes are drawn from (a prime number of them)",
    "code.symbology": "the barcode",
    "code.ean_prefix": "ean13: GS1 prefix of the barcode",
    "code.signed": "codes carry a keyed signature a till can check offline",
    "code.signature_length": "characters of the signature",
    "code.gs1_company_prefix": "gs1_128: your GS1 Company Prefix",
    "code.gs1_coupon_reference": "gs1_128: the coupon reference (12 digits with the company prefix)",
    "code.gcn_serial_length": "gs1_128: random digits of the serial",
    "code.expiry_in_barcode": "gs1_128: the barcode states the last valid day",
    "code.qr_payload": "qr: the code, a URL or a signed payload",
    "code.url_template": "qr with url: the coupon URL with {code}",
    "code.public": "one shared code for the whole campaign (a flyer code), for any card; nobody is chosen",
    "code.total_uses": "public: times all customers together may use the code",
    "reminder": "the reminder `coupongen remind` sends before unused coupons expire (docs/operations.md)",
    "reminder.enabled": "false: this campaign's coupons get no reminder",
    "reminder.days_before": "remind coupons whose last valid day is at most this many days away",
    "reminder.channel": "the reminder's only channel; none: the campaign's channels in order",
    "messages.<locale>.subject": "the coupons' message: e-mail subject and app title",
    "messages.<locale>.body": "the coupons' message: the text above the coupons",
    "messages.<locale>.reminder_subject": "the reminder: e-mail subject and app title",
    "messages.<locale>.reminder_body": "the reminder: the text above the coupons",
}
_FILTERS = [
    f"eligibility.{k}" for k in ("r_score", "f_score", "m_score", "spend", "visits", "age", "home_store")
]
for _key in [*_FILTERS, "eligibility.home_store", "eligibility.columns.<name>"]:
    KEY_NOTES[f"{_key}.op"] = (
        "how `values` are compared; usually written short: `x = 3` (equals), `x = [1, 2]` (in), "
        "`x = { at_least = 3 }`, `x = { at_most = 3 }`, `x = { between = [2, 4] }` (bounds included)"
    )
    KEY_NOTES[f"{_key}.values"] = (
        "one value (equals, at_least, at_most), several (in) or [low, high] (between)"
    )
"""A line of meaning per key (dotted for nested tables); a key without one shows its type only."""


def _ref(node: dict[str, Any]) -> str | None:
    ref = node.get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def _type(node: dict[str, Any]) -> str:
    if "anyOf" in node:
        kinds = [_type(n) for n in node["anyOf"] if n.get("type") != "null"]
        return " or ".join(kinds) + (" (optional)" if len(kinds) < len(node["anyOf"]) else "")
    if _ref(node):
        return "table"
    if "enum" in node:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in node["enum"])
    if node.get("type") == "array":
        return f"list of {_type(node.get('items', {}))}"
    bounds = [
        f"{sign} {node[key]}"
        for key, sign in (
            ("minimum", ">="),
            ("exclusiveMinimum", ">"),
            ("maximum", "<="),
            ("exclusiveMaximum", "<"),
        )
        if key in node
    ]
    text = {"string": "text", "integer": "integer", "number": "number", "boolean": "true/false"}.get(
        node.get("type", ""), node.get("type", "any")
    )
    if "pattern" in node:
        text += f" matching `{node['pattern']}`"
    return text + (f" ({', '.join(bounds)})" if bounds else "")


def _default(name: str, node: dict[str, Any], required: list[str]) -> str:
    if name in required:
        return "required"
    if "default" not in node or _ref(node):
        return ""
    value = node["default"]
    return "none" if value is None else f"`{json.dumps(value, ensure_ascii=False)}`"


KEY_PLACEHOLDERS = {"messages": "<locale>"}
RULE_NOTES = {
    "median_basket": "this multiple of tonight's median basket total",
    "basket_percentile": "the basket total at this percentile of tonight's baskets",
    "spend_percentile": "the spend at this percentile of customers' spend in the look-back window",
    "target_price": "this share of the offer's target price, offer by offer (reward values only)",
}
"""How the reference writes the user's own key of a table of tables."""


def _table(
    schema: dict[str, Any], model: dict[str, Any], path: str, sections: list[str], rules: list[str]
) -> None:
    """Append the table of ``model``'s keys and its nested tables to ``sections``; collect the
    money-rule models its keys accept in ``rules``.
    """
    title = f"`[{path}]`" if path else "Top-level keys"
    lines = [f"## {title}", "", "| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    nested: list[tuple[str, dict[str, Any]]] = []
    for name, node in model.get("properties", {}).items():
        key = f"{path}.{name}" if path else name
        lines.append(
            f"| `{name}` | {_type(node)} | {_default(name, node, model.get('required', []))} "
            f"| {KEY_NOTES.get(key, '')} |"
        )
        target = _ref(node) or next((r for n in node.get("anyOf", []) if (r := _ref(n))), None)
        if target:
            nested.append((key, schema["$defs"][target]))
        # a number or a rule (money values): the rule's keys are listed once, at the end
        for form in node.get("oneOf", []):
            if (rule := _ref(form)) is not None and rule not in rules:
                rules.append(rule)
        # a table of tables keyed by the user's own names, such as [messages.<locale>]
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and (each := _ref(extra)):
            nested.append((f"{key}.{KEY_PLACEHOLDERS.get(key, '<name>')}", schema["$defs"][each]))
    sections.append("\n".join(lines))
    for key, sub in nested:
        _table(schema, sub, key, sections, rules)


def campaign_reference() -> str:
    """The Markdown page of every campaign key, from ``CampaignConfig``'s JSON schema."""
    schema = CampaignConfig.model_json_schema()
    sections = [
        "# Campaign file reference\n\n"
        "Every key a campaign file (`jobs/campaigns/*.toml`) may hold, generated from the schema "
        "coupongen checks files against (`python -m coupongen.config.reference > docs/campaigns.md`). "
        "A key not listed is refused, naming the file and the keys allowed there. Start a file with "
        "`coupongen campaign new NAME --type TYPE`. A table may be written inline "
        '(`reward = { type = "percent", value = 10 }`) or as a `[reward]` section.'
    ]
    rules: list[str] = []
    _table(schema, schema, "", sections, rules)
    for name in rules:
        rule = schema["$defs"][name]
        lines = [
            f"## Money rules (`{name}`)",
            "",
            "A money value (marked number or rule above) may be a number in the job's currency or a "
            "one-key table resolved against tonight's data, e.g. `min_basket = { median_basket = 1.5 }`.",
            "",
            "| key | type | default | meaning |",
            "| --- | --- | --- | --- |",
        ]
        lines += [
            f"| `{key}` | {_type(node)} | | {RULE_NOTES.get(key, '')} |"
            for key, node in rule.get("properties", {}).items()
        ]
        sections.append("\n".join(lines))
    return "\n\n".join(sections) + "\n"


if __name__ == "__main__":
    print(campaign_reference(), end="")
