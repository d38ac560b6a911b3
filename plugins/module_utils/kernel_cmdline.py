# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Edit a kernel command line file (Raspberry Pi cmdline.txt) word by word.

The file holds one line of space-separated parameters. Words are added at the
end in the order given when they are not present yet, and removed where they
are; everything else keeps its place, so a rerun changes nothing.
"""
from __future__ import annotations


class CmdlineError(ValueError):
    """The file is not a kernel command line this code can edit safely."""


def parse_cmdline(text: str) -> list[str]:
    """Return the words of a one-line kernel command line."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        raise CmdlineError(
            "the file has %d non-empty lines; a kernel command line file must hold exactly one line "
            "(the boot firmware reads only the first). Join the lines into one and run again." % len(lines)
        )
    return lines[0].split() if lines else []


def update_cmdline(text: str, add: list[str], remove: list[str]) -> tuple[str, bool]:
    """Return the new file content and whether it differs from ``text``."""
    for word in list(add) + list(remove):
        if not word or any(c.isspace() for c in word):
            raise CmdlineError("%r is not a single kernel parameter (no spaces allowed)" % word)
    clash = sorted(set(add) & set(remove))
    if clash:
        raise CmdlineError("%s is both added and removed" % ", ".join(clash))
    words = [w for w in parse_cmdline(text) if w not in remove]
    for word in add:
        if word not in words:
            words.append(word)
    new_text = " ".join(words) + "\n"
    return new_text, new_text != text
