"""Render resolved zones to master-file text (jinja2 template `templates/zone.j2`) and routing.json.

Pure: no I/O besides loading the template from the package. Output is deterministic: records in
zone-file order, one serial placeholder that the bundle stage replaces (so content hashes exclude it).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2

from kuadns_sync import __version__
from kuadns_sync.variants import ResolvedZone, RRset, Variant

SERIAL_PLACEHOLDER = "@@SERIAL@@"
_OWNER_WIDTH_CAP = 48


@lru_cache(maxsize=1)
def make_env() -> jinja2.Environment:
    """The jinja2 environment: templates from the package (installed) or the repository's templates/."""
    repo_templates = Path(__file__).resolve().parent.parent / "templates"
    loader: jinja2.BaseLoader
    if repo_templates.is_dir():
        loader = jinja2.FileSystemLoader(str(repo_templates))
    else:  # installed from a wheel: templates/ ships as the package kuadns_sync.templates
        loader = jinja2.PackageLoader("kuadns_sync.templates", ".")
    return jinja2.Environment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def relative_owner(name: str, zone: str) -> str:
    """Owner name relative to the zone origin (`@` for the apex)."""
    if name == zone:
        return "@"
    return name[: -(len(zone) + 1)] if name.endswith("." + zone) else name + "."


def _rrset_lines(rrset: RRset, zone: str, width: int) -> list[str]:
    owner = relative_owner(rrset.name, zone)
    lines = [f"{owner:<{width}} {rrset.ttl:>6} IN {rrset.rtype:<5} {rdata}" for rdata in rrset.rdata]
    for members in rrset.alternatives:
        for member in members:
            for rdata in member.rdata:
                lines.append(
                    f";{owner:<{width - 1}} {member.ttl:>6} IN {rrset.rtype:<5} {rdata}"
                    f" ; weighted set member {member.set!r} weight {member.weight}"
                )
    if rrset.alternatives:
        lines.insert(0, f"; weighted set {owner} {rrset.rtype}: one member below is chosen per answer")
    return lines


def render_variants(resolved: ResolvedZone, default_ttl: int) -> dict[str, str]:
    """Zone-file text of every variant of a resolved zone, with SERIAL_PLACEHOLDER for the serial."""
    zone = resolved.name
    template = make_env().get_template("zone.j2")
    all_names = {r.name for rrsets in resolved.records.values() for r in rrsets}
    width = min(max((len(relative_owner(n, zone)) for n in all_names), default=1), _OWNER_WIDTH_CAP)
    cache: dict[int, list[str]] = {}
    texts = {}
    for variant in resolved.variants:
        body: list[str] = []
        for rrset in resolved.records[variant.name]:
            lines = cache.get(id(rrset))
            if lines is None:
                lines = cache[id(rrset)] = _rrset_lines(rrset, zone, width)
            body.extend(lines)
        texts[variant.name] = template.render(
            generator=f"kuadns-sync {__version__}",
            zone=zone,
            variant=variant,
            default_ttl=default_ttl,
            soa=resolved.soa,
            serial=SERIAL_PLACEHOLDER,
            body="\n".join(body),
        )
    return texts


def variant_label(variant: Variant) -> str:
    """Human description of a variant (for explain and diff output)."""
    if variant.country:
        return f"{variant.name} (country {variant.country}, continent {variant.continent or '?'})"
    if variant.continent:
        return f"{variant.name} (continent {variant.continent})"
    return f"{variant.name} (no other variant matches)"
