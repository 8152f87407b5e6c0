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


def rrset_lines(rrset: RRset, owner: str, width: int) -> list[str]:
    """Zone-file lines of one RRset (owner relative to the origin, padded to `width`)."""
    prefix = f"{owner:<{width}} {rrset.ttl:>6} IN {rrset.rtype:<5} "
    if len(rrset.rdata) == 1 and not rrset.alternatives:  # most RRsets
        return [prefix + rrset.rdata[0]]
    lines = [prefix + rdata for rdata in rrset.rdata]
    if rrset.alternatives:
        lines.insert(0, f"; weighted set {owner} {rrset.rtype}: one member below is chosen per answer")
        for members in rrset.alternatives:
            for member in members:
                for rdata in member.rdata:
                    lines.append(
                        f";{owner:<{width - 1}} {member.ttl:>6} IN {rrset.rtype:<5} {rdata}"
                        f" ; weighted set member {member.set!r} weight {member.weight}"
                    )
    return lines


def render_variants(resolved: ResolvedZone, default_ttl: int) -> dict[str, str]:
    """Zone-file text of every variant of a resolved zone, with SERIAL_PLACEHOLDER for the serial."""
    zone = resolved.name
    template = make_env().get_template("zone.j2")
    shared = [entry for entry in resolved.layout if isinstance(entry, RRset)]
    chosen = {id(rrset): rrset for fills in resolved.slots.values() for rrset in fills if rrset is not None}
    owners: dict[str, str] = {}
    for rrset in (*shared, *chosen.values()):
        if rrset.name not in owners:
            owners[rrset.name] = relative_owner(rrset.name, zone)
    width = min(max(map(len, owners.values()), default=1), _OWNER_WIDTH_CAP)

    # The text between two slots is the same in every variant: joined once (runs[i] precedes slot i).
    # One-line RRsets (most) are written from the owner column and the TTL/type columns, each made once.
    columns = {name: owner.ljust(width) for name, owner in owners.items()}
    middles: dict[tuple[int, str], str] = {}
    runs: list[str] = []
    lines: list[str] = []
    for entry in resolved.layout:
        if not isinstance(entry, RRset):
            runs.append("\n".join(lines))
            lines = []
        elif len(entry.rdata) == 1 and not entry.alternatives:
            middle = middles.get((entry.ttl, entry.rtype))
            if middle is None:
                middle = middles[entry.ttl, entry.rtype] = f" {entry.ttl:>6} IN {entry.rtype:<5} "
            lines.append(columns[entry.name] + middle + entry.rdata[0])
        else:
            lines += rrset_lines(entry, owners[entry.name], width)
    tail = "\n".join(lines)
    chosen_text = {key: "\n".join(rrset_lines(rrset, owners[rrset.name], width)) for key, rrset in chosen.items()}

    texts = {}
    for variant in resolved.variants:
        pieces: list[str] = []  # each non-empty: an RRset without rdata writes no line
        for run, fill in zip(runs, resolved.slots[variant.name], strict=True):
            if run:
                pieces.append(run)
            if fill is not None and (text := chosen_text[id(fill)]):
                pieces.append(text)
        if tail:
            pieces.append(tail)
        texts[variant.name] = template.render(
            generator=f"kuadns-sync {__version__}",
            zone=zone,
            variant=variant,
            default_ttl=default_ttl,
            soa=resolved.soa,
            serial=SERIAL_PLACEHOLDER,
            body="\n".join(pieces),
        )
    return texts


def variant_label(variant: Variant) -> str:
    """Human description of a variant (for explain and diff output)."""
    if variant.country:
        return f"{variant.name} (country {variant.country}, continent {variant.continent or '?'})"
    if variant.continent:
        return f"{variant.name} (continent {variant.continent})"
    return f"{variant.name} (no other variant matches)"
