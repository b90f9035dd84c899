"""Reading job and campaign files: TOML in, validated settings out, one-line errors naming the key."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from coupongen.config.base import _Model
from coupongen.config.campaigns import CampaignConfig
from coupongen.config.job import Job, JobConfig
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


def _model_fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at ``loc`` inside ``model``, for an 'unknown key' message."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        ann = field.annotation
        args = getattr(ann, "__args__", ()) or ()
        candidates = [ann, *args]
        current = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if current is None:
            return []
    return sorted(getattr(current, "model_fields", {}))


def _format_error(path: Path, model: type[BaseModel], err: ValidationError) -> str:
    first = err.errors()[0]
    loc = tuple(first["loc"])
    key = ".".join(str(p) for p in loc) or "(top level)"
    if first["type"] == "extra_forbidden":
        allowed = ", ".join(_model_fields_at(model, loc))
        return f"{path}: unknown key {key!r} (allowed here: {allowed})"
    if first["type"] == "missing":
        return f"{path}: missing key {key!r}"
    value = first.get("input")
    shown = "" if isinstance(value, dict) else f" (got {value!r})"
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
    for c, cpath in zip(campaigns, seen.values(), strict=True):
        unknown = sorted(set(c.eligibility.segments) - known)
        if unknown:
            raise ConfigError(
                f"{cpath}: eligibility.segments: unknown segment {unknown[0]!r} "
                f"(allowed: {', '.join(sorted(known))})"
            )
    return Job(path, config, tuple(campaigns))


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
