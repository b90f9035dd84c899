from __future__ import annotations

from pathlib import Path

import pytest

from coupongen.config import load_job
from coupongen.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def write_job(tmp_path: Path, job: str, **campaigns: str) -> Path:
    (tmp_path / "campaigns").mkdir(exist_ok=True)
    for name, text in campaigns.items():
        (tmp_path / "campaigns" / f"{name}.toml").write_text(text)
    path = tmp_path / "job.toml"
    path.write_text(job)
    return path


CAMPAIGN = 'name = "cs"\ntype = "cross_sell"\nreward = { type = "percent", value = 10 }\n'


def test_the_bundled_nightly_job_loads():
    job = load_job(REPO / "jobs" / "nightly.toml")
    assert [c.type for c in job.campaigns] == [
        "service_recovery",
        "birthday",
        "win_back",
        "second_purchase",
        "replenishment",
        "cross_sell",
        "vip_reward",
        "referral",
    ]
    assert job.resolve(job.config.data) == REPO / "sample_data"
    assert len(job.config_hash()) == 16


def test_unknown_key_names_file_key_and_allowed_keys(tmp_path):
    path = write_job(tmp_path, 'name = "x"\n[affinity]\nmin_suport = 0.1\n')
    with pytest.raises(ConfigError) as e:
        load_job(path)
    assert str(e.value) == (
        f"{path}: unknown key 'affinity.min_suport' "
        "(allowed here: category_min_support, max_len, min_confidence, min_lift, min_support)"
    )


def test_bad_value_names_key_and_what_is_allowed(tmp_path):
    path = write_job(tmp_path, "[affinity]\nmin_support = 2.0\n")
    with pytest.raises(ConfigError) as e:
        load_job(path)
    assert str(e.value) == f"{path}: affinity.min_support: Input should be less than or equal to 1 (got 2.0)"


def test_a_misspelt_key_is_named_rather_than_the_key_it_leaves_missing(tmp_path):
    misspelt = CAMPAIGN.replace('"percent", value = 10', '"percent", valu = 10')
    path = write_job(tmp_path, 'campaigns = ["campaigns/cs.toml"]\n', cs=misspelt)
    with pytest.raises(ConfigError) as e:
        load_job(path)
    assert str(e.value).startswith(
        f"{tmp_path / 'campaigns' / 'cs.toml'}: unknown key 'reward.valu' (allowed here: "
    )
    without = CAMPAIGN.replace(", value = 10", "")  # missing, nothing misspelt: says so
    write_job(tmp_path, 'campaigns = ["campaigns/cs.toml"]\n', cs=without)
    with pytest.raises(ConfigError, match=r"cs\.toml: missing key 'reward\.value'$"):
        load_job(path)


def test_a_bad_boolean_or_choice_is_shown_as_the_file_writes_it(tmp_path):
    path = write_job(tmp_path, "[products]\nname_case = true\n")
    with pytest.raises(ConfigError) as e:
        load_job(path)
    assert str(e.value) == (f"{path}: products.name_case: Input should be 'auto' or 'as_written' (got true)")


def test_campaign_errors_name_the_campaign_file(tmp_path):
    bad = CAMPAIGN.replace('"percent", value = 10', '"percent", value = 150')
    path = write_job(tmp_path, 'campaigns = ["campaigns/cs.toml"]\n', cs=bad)
    with pytest.raises(ConfigError) as e:
        load_job(path)
    assert str(e.value).startswith(
        f"{tmp_path / 'campaigns' / 'cs.toml'}: reward: a percent reward must be at most 100 (percent off)"
    )


def test_unknown_offer_type_lists_the_types(tmp_path):
    path = write_job(
        tmp_path, 'campaigns = ["campaigns/cs.toml"]\n', cs=CAMPAIGN.replace("cross_sell", "lottery")
    )
    with pytest.raises(ConfigError, match=r"type: Input should be 'cross_sell', 'win_back'"):
        load_job(path)


def test_missing_campaign_file_and_bad_toml(tmp_path):
    path = write_job(tmp_path, 'campaigns = ["campaigns/nope.toml"]\n')
    with pytest.raises(ConfigError, match=r"nope.toml: config file not found"):
        load_job(path)
    path.write_text("name = \n")
    with pytest.raises(ConfigError, match=r"job.toml: not valid TOML"):
        load_job(path)


def test_duplicate_campaign_names_and_unknown_segments_are_refused(tmp_path):
    path = write_job(
        tmp_path, 'campaigns = ["campaigns/a.toml", "campaigns/b.toml"]\n', a=CAMPAIGN, b=CAMPAIGN
    )
    with pytest.raises(ConfigError, match=r"b.toml: campaign name 'cs' is already used by"):
        load_job(path)
    seg = CAMPAIGN + 'eligibility = { segments = ["champignons"] }\n'
    path = write_job(tmp_path, 'campaigns = ["campaigns/a.toml"]\n', a=seg)
    with pytest.raises(
        ConfigError, match=r"unknown segment 'champignons' \(allowed: about_to_sleep, at_risk"
    ):
        load_job(path)


def test_code_alphabet_must_be_distinct(tmp_path):
    bad = CAMPAIGN + 'code = { alphabet = "AABC" }\n'
    path = write_job(tmp_path, 'campaigns = ["campaigns/a.toml"]\n', a=bad)
    with pytest.raises(ConfigError, match=r"code.alphabet: characters must be distinct"):
        load_job(path)


def test_code_alphabet_must_have_a_prime_size(tmp_path):
    bad = CAMPAIGN + 'code = { alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ0123456789" }\n'
    path = write_job(tmp_path, 'campaigns = ["campaigns/a.toml"]\n', a=bad)
    with pytest.raises(ConfigError, match=r"code: alphabet needs a prime number of characters .*got 33"):
        load_job(path)


def test_config_hash_changes_with_settings(tmp_path):
    a = load_job(write_job(tmp_path, "seed = 1\n")).config_hash()
    b = load_job(write_job(tmp_path, "seed = 2\n")).config_hash()
    assert a != b


def test_the_ranking_settings_name_the_methods_and_bound_the_share(tmp_path):
    path = write_job(tmp_path, '[ranking]\nmethod = "magic"\n')
    with pytest.raises(ConfigError) as e:
        load_job(path)
    assert str(e.value) == f"{path}: ranking.method: Input should be 'rerank', 'ease' or 'knn' (got 'magic')"
    path = write_job(tmp_path, "[ranking]\nmax_substitute_share = 1.5\n")
    with pytest.raises(ConfigError) as e:
        load_job(path)
    assert str(e.value) == (
        f"{path}: ranking.max_substitute_share: Input should be less than or equal to 1 (got 1.5)"
    )
    path = write_job(tmp_path, "[ranking]\nmax_product_share = 0\n")
    with pytest.raises(ConfigError) as e:
        load_job(path)
    assert str(e.value) == f"{path}: ranking.max_product_share: Input should be greater than 0 (got 0)"
    path = write_job(tmp_path, "[ranking]\npopularity_discount = 3\n")
    with pytest.raises(ConfigError) as e:
        load_job(path)
    assert str(e.value) == (
        f'{path}: ranking.popularity_discount: must be "auto" or a number within 0 and 2 (got 3)'
    )
    ranking = load_job(REPO / "jobs" / "nightly.toml").config.ranking
    assert (ranking.method, ranking.prefer_new_types, ranking.max_substitute_share) == ("ease", True, 0.2)
    assert (ranking.popularity_discount, ranking.max_product_share) == ("auto", 1.0)


@pytest.mark.parametrize(
    "sender",
    [
        "offers@example",
        "a@x.com, b@x.com",
        "Shop <offers@example.com>\\nBcc: x@y.com",
        "Shop offers@example.com",
    ],
)
def test_a_sender_that_is_not_one_address_names_the_key(tmp_path, sender):
    path = write_job(tmp_path, f'[channels]\nsender = "{sender}"\n')
    with pytest.raises(ConfigError) as e:
        load_job(path)
    assert str(e.value).startswith(f"{path}: channels.sender: must be one address")


def test_a_sender_is_an_address_or_a_name_and_an_address(tmp_path):
    for sender in ("offers@example.com", "Grocery Outlet <offers@example.com>", "Магазин <a@b.ru>"):
        assert (
            load_job(write_job(tmp_path, f'[channels]\nsender = "{sender}"\n')).config.channels.sender
            == sender
        )
