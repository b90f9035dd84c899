"""Reading job and campaign files: TOML in, validated settings out, one-line errors naming the key."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from coupongen.config.base import _Model
from coupongen.config.campaigns import CampaignConfig
from coupongen.config.job import Job, JobConfig
from coupongen.config.money import MONEY_TAGS
from coupongen.errors import ConfigError


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: config file not found") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from e


def _flatten(ann: Any) -> list[Any]:
    """A type and every type inside it (unions, Annotated), to find the model a key belongs to."""
    found = [ann]
    for arg in get_args(ann):
        found += _flatten(arg)
    return found


def _model_fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at ``loc`` inside ``model``, for an 'unknown key' message."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        candidates = _flatten(field.annotation)
        current = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if current is None:
            return []
    return sorted(getattr(current, "model_fields", {}))


def _format_error(path: Path, model: type[BaseModel], err: ValidationError) -> str:
    errors = err.errors()
    first = errors[0]
    if first["type"] == "missing":
        # A key missing beside an unknown one in the same table is most likely misspelt: name that.
        misspelt = (
            e for e in errors if e["type"] == "extra_forbidden" and e["loc"][:-1] == first["loc"][:-1]
        )
        first = next(misspelt, first)
    loc = tuple(p for p in first["loc"] if p not in MONEY_TAGS)
    key = ".".join(str(p) for p in loc) or "(top level)"
    if first["type"] == "extra_forbidden":
        allowed = ", ".join(_model_fields_at(model, loc))
        return f"{path}: unknown key {key!r} (allowed here: {allowed})"
    if first["type"] == "missing":
        return f"{path}: missing key {key!r}"
    value = first.get("input")
    if isinstance(value, date):
        value = value.isoformat()
    # the value as the file writes it: TOML's true and false, not Python's
    written = str(value).lower() if isinstance(value, bool) else repr(value)
    shown = "" if isinstance(value, dict) else f" (got {written})"
    msg = first["msg"].removeprefix("Value error, ")
    return f"{path}: {key}: {msg}{shown}"


def _validate(path: Path, model: type[_Model], doc: dict[str, Any]) -> Any:
    try:
        return model.model_validate(doc)
    except ValidationError as e:
        raise ConfigError(_format_error(path, model, e)) from e


def load_campaign(path: Path) -> CampaignConfig:
    """Read and validate one campaign file."""
    return _validate(path, CampaignConfig, _read_toml(path))


def load_job(path: Path | str) -> Job:
    """Read and validate a job file and every campaign file it names."""
    path = Path(path).resolve()
    doc = _read_toml(path)
    config: JobConfig = _validate(path, JobConfig, doc)
    campaigns = []
    seen: dict[str, Path] = {}
    for name in config.campaigns:
        cpath = Path(name) if Path(name).is_absolute() else path.parent / name
        campaign = load_campaign(cpath)
        if campaign.name in seen:
            raise ConfigError(
                f"{cpath}: campaign name {campaign.name!r} is already used by {seen[campaign.name]}"
            )
        seen[campaign.name] = cpath
        campaigns.append(campaign)
    _check_prefixes(campaigns, list(seen.values()))
    known = {r.name for r in config.segments.rules}
    lists: dict[str, frozenset[str]] = {}
    for c, cpath in zip(campaigns, seen.values(), strict=True):
        if c.eligibility.customers_file is not None:
            listed = Path(c.eligibility.customers_file)
            listed = listed if listed.is_absolute() else cpath.parent / listed
            lists[c.name] = read_customer_list(listed, campaign_file=cpath)
        unknown = sorted(set(c.eligibility.segments) - known)
        if unknown:
            raise ConfigError(
                f"{cpath}: eligibility.segments: unknown segment {unknown[0]!r} "
                f"(allowed: {', '.join(sorted(known))})"
            )
    return Job(path, config, tuple(campaigns), customer_lists=lists, campaign_files=seen)


def read_customer_list(path: Path, *, campaign_file: Path) -> frozenset[str]:
    """The customer ids or card numbers of an audience file, one a line.

    Blank lines and lines starting with ``#`` are skipped, and so is a first line that names the
    column (``customer_id`` or ``card_number``); a CSV line keeps its first field.
    """
    key = f"{campaign_file}: eligibility.customers_file"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as e:
        raise ConfigError(f"{key}: file not found: {path}") from e
    except UnicodeDecodeError as e:
        raise ConfigError(f"{key}: {path} is not UTF-8 text") from e
    except OSError as e:
        raise ConfigError(f"{key}: cannot read {path}: {e.strerror}") from e
    values = [line.split(",")[0].strip().strip('"') for line in text.splitlines()]
    values = [v for v in values if v and not v.startswith("#")]
    if values and values[0].lower() in ("customer_id", "card_number"):
        values = values[1:]
    if not values:
        raise ConfigError(f"{key}: {path} lists no customers")
    return frozenset(values)


def _check_prefixes(campaigns: list[CampaignConfig], paths: list[Path]) -> None:
    """ConfigError when a signed campaign's code prefix overlaps another campaign's (one begins
    with the other): an altered code of one could then be checked offline as the other's.
    """
    for i, (a, apath) in enumerate(zip(campaigns, paths, strict=True)):
        for b, bpath in zip(campaigns[:i], paths[:i], strict=True):
            if not (a.code.signed or b.code.signed):
                continue
            pa, pb = a.code.prefix, b.code.prefix
            if pa.startswith(pb) or pb.startswith(pa):
                raise ConfigError(
                    f"{apath}: code.prefix {pa!r} overlaps the prefix {pb!r} of campaign {b.name!r} "
                    f"({bpath}); a signed campaign needs a prefix that neither begins nor is begun "
                    "by another campaign's"
                )
