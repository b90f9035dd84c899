"""The campaign key reference is the schema's, and `campaign new` writes a file that loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from coupongen.config import load_campaign
from coupongen.config.campaigns import CampaignConfig
from coupongen.config.reference import campaign_reference
from coupongen.config.starter import STARTERS, starter_file
from tests.conftest import invoke

REPO = Path(__file__).resolve().parents[1]


def test_docs_campaigns_md_is_the_reference_generated_from_the_schema():
    page = (REPO / "docs" / "campaigns.md").read_text(encoding="utf-8")
    assert page == campaign_reference(), (
        "docs/campaigns.md is out of date: python -m coupongen.config.reference > docs/campaigns.md"
    )


def test_the_reference_lists_every_key_of_every_table():
    page = campaign_reference()
    schema = CampaignConfig.model_json_schema()
    for model in [schema, *schema["$defs"].values()]:
        for key in model["properties"]:
            assert f"| `{key}` |" in page
    for table in ("[eligibility]", "[reward]", "[reward.referrer_reward]", "[code]"):
        assert f"## `{table}`" in page


@pytest.mark.parametrize("offer_type", sorted(STARTERS))
def test_a_starting_file_of_every_type_loads_as_it_stands(tmp_path, offer_type):
    assert set(STARTERS) == set(CampaignConfig.model_json_schema()["properties"]["type"]["enum"])
    path = tmp_path / "c.toml"
    path.write_text(starter_file("my-offer", offer_type), encoding="utf-8")
    campaign = load_campaign(path)
    assert (campaign.name, campaign.type) == ("my-offer", offer_type)


def test_campaign_new_writes_the_file_once(tmp_path):
    result = invoke("campaign", "new", "coffee", "--type", "win_back", "--dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    path = tmp_path / "coffee.toml"
    assert result.output == (
        f"wrote {path}: add it to the job file's campaigns list, then `coupongen campaign preview coffee`\n"
    )
    text = path.read_text(encoding="utf-8")
    assert "# holdout_share = 0.1" in text and 'prefix = "C"' in text
    again = invoke("campaign", "new", "coffee", "--type", "win_back", "--dir", str(tmp_path))
    assert again.exit_code == 2
    assert again.output.endswith(f"Error: {path}: already exists; choose another name or remove it\n")
    assert path.read_text(encoding="utf-8") == text
    bad = invoke("campaign", "new", "Coffee!", "--type", "win_back", "--dir", str(tmp_path))
    assert bad.exit_code == 2
    assert bad.output.endswith(
        "Error: campaign name 'Coffee!' must be lower-case letters, digits, '_' or '-'\n"
    )
