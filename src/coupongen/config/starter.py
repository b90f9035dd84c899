"""A commented starting campaign file for each offer type (``coupongen campaign new``).

The set keys are a sensible start for the type (those of the bundled campaigns); every other key of
the schema follows, commented out with its default and meaning, so the file shows what can be set.
"""

from __future__ import annotations

import json
from typing import Any

from coupongen.config.campaigns import CampaignConfig
from coupongen.config.reference import KEY_NOTES

STARTERS: dict[str, dict[str, str]] = {
    "cross_sell": {
        "description": "15% off a product that goes with what the customer already buys",
        "eligibility": (
            '{ segments = ["champions", "loyal", "potential", "new", "promising"], '
            'exclude_nps = ["detractor"] }'
        ),
        "reward": '{ type = "percent", value = 15 }',
        "min_basket": "500",
        "budget": "15000.0",
    },
    "win_back": {
        "description": "20% off the customer's favourite category to bring them back",
        "eligibility": '{ lifecycle = ["lapsing", "lapsed"], min_spend = 2000 }',
        "reward": '{ type = "percent", value = 20 }',
        "min_basket": "1000",
        "valid_days": "21",
        "budget": "10000.0",
    },
    "second_purchase": {
        "description": "A fixed amount off a second basket",
        "eligibility": '{ lifecycle = ["new"] }',
        "reward": '{ type = "amount", value = 200 }',
        "min_basket": "1500",
        "budget": "5000.0",
    },
    "replenishment": {
        "description": "Bonus points on a regular product that is due",
        "eligibility": '{ lifecycle = ["active", "lapsing"] }',
        "reward": '{ type = "points", value = 50 }',
        "valid_from_offset_days": "0",
        "valid_days": "10",
        "budget": "3000.0",
    },
    "vip_reward": {
        "description": "Double points for champions",
        "eligibility": '{ segments = ["champions"], min_spend = 10000 }',
        "reward": '{ type = "multiplier", value = 2 }',
        "budget": "2000.0",
    },
    "birthday": {
        "description": "Triple points on a birthday-week basket",
        "reward": '{ type = "multiplier", value = 3 }',
        "valid_days": "7",
        "frequency_cap_days": "300",
    },
    "service_recovery": {
        "description": "An apology and an amount off the next basket for NPS detractors",
        "eligibility": '{ nps = ["detractor"] }',
        "reward": '{ type = "amount", value = 300 }',
        "min_basket": "1000",
        "valid_days": "30",
        "frequency_cap_days": "90",
    },
    "referral": {
        "description": "Invite a friend: 10% off for them, points for you",
        "eligibility": '{ nps = ["promoter"] }',
        "reward": '{ type = "percent", value = 10, referrer_reward = { type = "points", value = 200 } }',
        "min_basket": "1000",
        "valid_days": "60",
        "max_uses": "3",
        "frequency_cap_days": "90",
    },
}
"""What a new campaign file of each type sets (values as TOML)."""


def _toml(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, bool) else str(value).lower()


def _commented(name: str, node: dict[str, Any], note_key: str) -> str | None:
    """A commented-out line of a key with its default and meaning; None for a table."""
    if "$ref" in node:
        return None
    default = node.get("default")
    line = f"# {name} = {_toml(default)}" if default is not None else f"# {name} =   (none by default)"
    note = KEY_NOTES.get(note_key)
    return f"{line:<44} # {note}" if note else line


def starter_file(name: str, offer_type: str) -> str:
    """The text of a new campaign file ``name`` of ``offer_type``; it loads as it stands."""
    values = STARTERS[offer_type]
    schema = CampaignConfig.model_json_schema()
    prefix = name[0].upper() if name[0].isalpha() else "C"
    lines = [
        f"# {name}: a {offer_type.replace('_', ' ')} campaign. Every key: docs/campaigns.md.",
        f"# Add this file to the job file's `campaigns` list, then `coupongen campaign preview {name}`.",
        f'name = "{name}"',
        f'type = "{offer_type}"',
    ]
    lines += [f"{k} = {v}" if k != "description" else f'{k} = "{v}"' for k, v in values.items()]
    lines += ["", "# Other keys, with their defaults:"]
    for key, node in schema["properties"].items():
        if key in values or key in ("name", "type", "code"):
            continue
        line = _commented(key, node, key)
        if line:
            lines.append(line)
    lines += ["", "[code]", f'prefix = "{prefix}"', 'symbology = "qr"']
    for key, node in schema["$defs"]["CodeConfig"]["properties"].items():
        if key in ("prefix", "symbology"):
            continue
        line = _commented(key, node, f"code.{key}")
        if line:
            lines.append(line)
    return "\n".join(lines) + "\n"
