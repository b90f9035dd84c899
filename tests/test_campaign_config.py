"""Campaign keys for targets, audiences, schedules and budgets: accepted forms and one-line errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from coupongen.config import Filter, load_campaign, load_job
from coupongen.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
BASE = 'name = "c"\ntype = "win_back"\nreward = { type = "percent", value = 15 }\n'


def load(tmp_path: Path, text: str):
    path = tmp_path / "c.toml"
    path.write_text(BASE + text + "\n")
    return path, load_campaign


def error(tmp_path: Path, text: str) -> str:
    path, loader = load(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        loader(path)
    return str(e.value).removeprefix(f"{path}: ")


def test_the_coffee_example_is_one_short_file():
    path = REPO / "jobs" / "campaigns" / "coffee_december.toml"
    keys = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    assert len(keys) <= 10
    camp = load_campaign(path)
    assert camp.target is not None and camp.target.categories == ("coffee",)
    assert (camp.start, camp.end, camp.lifetime_budget) == (date(2026, 12, 1), date(2026, 12, 31), 3000.0)
    assert camp.eligibility.lifecycle == ("lapsed",)


def test_filters_accept_a_value_a_list_and_the_three_comparisons(tmp_path):
    path, loader = load(
        tmp_path,
        '[eligibility]\nhome_store = "S001"\nr_score = [4, 5]\nage = { between = [25, 34] }\n'
        'visits = { at_least = 3 }\nspend = { at_most = 5000 }\n[eligibility.columns]\nlocale = "en"\n',
    )
    rules = loader(path).eligibility
    assert rules.filters() == {
        "r_score": Filter(op="in", values=(4, 5)),
        "spend": Filter(op="at_most", values=(5000,)),
        "visits": Filter(op="at_least", values=(3,)),
        "age": Filter(op="between", values=(25, 34)),
        "home_store": Filter(op="equals", values=("S001",)),
        "columns.locale": Filter(op="equals", values=("en",)),
    }
    assert rules.age is not None and rules.age.describe() == "between 25 and 34"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "eligibility = { r_score = { over = 3 } }",
            "eligibility.r_score: a filter is a value, a list, or one of {between = [a, b]}, "
            "{at_least = x}, {at_most = x}",
        ),
        (
            "eligibility = { age = { between = [40, 30] } }",
            "eligibility.age: between needs [low, high] of one kind with low <= high",
        ),
        ('eligibility = { age = "old" }', "eligibility.age: this filter compares numbers (got 'old')"),
        (
            'eligibility = { columns = { "bad name" = 1 } }',
            "eligibility.columns: 'bad name' is not a column name (letters, digits and '_')",
        ),
        (
            'target = { colours = ["red"] }',
            "unknown key 'target.colours' (allowed here: brands, categories, name_patterns, rule, skus)",
        ),
        (
            'target = { categories = ["coffee"], rule = "best" }',
            "target.rule: Input should be 'model', 'favourite' or 'replenishment' (got 'best')",
        ),
        ("target = {}", "target: a target needs skus, categories, brands, name_patterns or a rule"),
        (
            "start = 2026-12-31\nend = 2026-12-01",
            "end: must not be before start (2026-12-31) (got '2026-12-01')",
        ),
        ("per_customer = { max = 1 }", "missing key 'per_customer.days'"),
        ("lifetime_budget = -1", "lifetime_budget: Input should be greater than or equal to 0 (got -1)"),
    ],
)
def test_bad_campaign_keys_give_one_line_naming_the_key(tmp_path, text, message):
    assert error(tmp_path, text) == message


def test_a_customers_file_is_read_beside_the_campaign(tmp_path):
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "c.toml").write_text(BASE + 'eligibility = { customers_file = "vip.csv" }\n')
    (tmp_path / "campaigns" / "vip.csv").write_text("customer_id\nC1\n# a note\n\n2770000000001,extra\n")
    (tmp_path / "job.toml").write_text('campaigns = ["campaigns/c.toml"]\n')
    job = load_job(tmp_path / "job.toml")
    assert job.customer_lists == {"c": frozenset({"C1", "2770000000001"})}


def test_a_missing_customers_file_names_the_campaign_file_and_key(tmp_path):
    (tmp_path / "campaigns").mkdir()
    camp = tmp_path / "campaigns" / "c.toml"
    camp.write_text(BASE + 'eligibility = { customers_file = "nope.txt" }\n')
    (tmp_path / "job.toml").write_text('campaigns = ["campaigns/c.toml"]\n')
    with pytest.raises(ConfigError) as e:
        load_job(tmp_path / "job.toml")
    assert str(e.value) == (
        f"{camp}: eligibility.customers_file: file not found: {tmp_path / 'campaigns' / 'nope.txt'}"
    )
