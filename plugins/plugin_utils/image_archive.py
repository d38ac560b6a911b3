# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an image archive holds, for the checks made before it reaches a node. Pure logic, no I/O.

An archive is what ``ctr images import`` reads: an OCI image layout (``index.json``, whose manifests
name their image in the ``io.containerd.image.name`` or ``org.opencontainers.image.ref.name``
annotation) or ``docker save`` output (``manifest.json``, a list whose entries carry ``RepoTags``).
Names are compared the way containerd stores them: ``pause:3.10`` is ``docker.io/library/pause:3.10``.
"""
from __future__ import annotations

import json
import typing as t

# The members of the archive that name its images.
INDEX_MEMBERS = ("index.json", "manifest.json")


class ImageArchiveError(ValueError):
    """The archive cannot be read as an image archive; the message says what is wrong."""


def normalise(ref: str) -> str:
    """A reference as containerd names it: the registry and docker.io's ``library/`` made explicit."""
    ref = ref.strip()
    name, digest = ref.split("@", 1) if "@" in ref else (ref, "")
    first, rest = name.split("/", 1) if "/" in name else (name, "")
    if not rest or ("." not in first and ":" not in first and first != "localhost"):
        name = "docker.io/" + name if rest else "docker.io/library/" + name
    elif first == "docker.io" and "/" not in rest:
        name = "docker.io/library/" + rest
    last = name.rsplit("/", 1)[-1]
    if ":" not in last and not digest:
        name += ":latest"
    return name + ("@" + digest if digest else "")


def names_from_members(members: dict[str, bytes]) -> list[str]:
    """The image names in an archive, from its index members (``INDEX_MEMBERS``, those present), sorted."""
    names: set[str] = set()
    found = False
    if "index.json" in members:
        found = True
        index = _json(members["index.json"], "index.json")
        for entry in index.get("manifests") or [] if isinstance(index, dict) else []:
            notes = entry.get("annotations") or {} if isinstance(entry, dict) else {}
            name = notes.get("io.containerd.image.name") or ""
            ref = notes.get("org.opencontainers.image.ref.name") or ""
            # A ref.name that is a whole reference names the image; a bare tag names nothing by itself.
            if not name and "/" in ref:
                name = ref
            if name:
                names.add(normalise(name))
    if "manifest.json" in members:
        found = True
        manifest = _json(members["manifest.json"], "manifest.json")
        for entry in manifest if isinstance(manifest, list) else []:
            for tag in (entry.get("RepoTags") or []) if isinstance(entry, dict) else []:
                names.add(normalise(str(tag)))
    if not found:
        raise ImageArchiveError("it has neither index.json (an OCI image layout) nor manifest.json (docker save), "
                                "so it is not an image archive ctr can import")
    return sorted(names)


def missing(wanted: t.Iterable[str], held: t.Iterable[str]) -> list[str]:
    """The wanted references (as given) that the archive's names do not hold."""
    have = {normalise(n) for n in held}
    return [w for w in wanted if w and normalise(w) not in have]


def _json(data: bytes, member: str) -> t.Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ImageArchiveError(f"its {member} is not valid JSON ({exc})") from exc
