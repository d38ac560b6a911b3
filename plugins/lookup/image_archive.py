# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: image_archive
author:
  - kubeforge maintainers (!UNKNOWN)
version_added: 0.2.0
short_description: Name the container images an image archive on the controller holds
description:
  - Reads the index of each image archive given (an OCI image layout tar, or C(docker save) output, optionally
    gzip-compressed) and returns the image names it holds, as containerd names them on import
    (C(pause:3.10) is C(docker.io/library/pause:3.10)).
  - Only the archive's index is read, never its layers. A file that is missing, unreadable or not an image archive
    gives an C(error) instead of names, so that a play can report it with the variable that names the file.
options:
  _terms:
    description: Paths of image archives on the controller.
    required: true
"""

EXAMPLES = r"""
- name: Check that the archive holds the sandbox image
  ansible.builtin.assert:
    that: containerd_sandbox_image | kubeforge.cluster.image_archive_missing(__archive.names) | length == 0
  vars:
    __archive: "{{ lookup('kubeforge.cluster.image_archive', kubeadm_images_archive) }}"
"""

RETURN = r"""
_raw:
  description: One entry per archive.
  type: list
  elements: dict
  contains:
    path:
      description: The archive, as given.
      type: str
    names:
      description: The image names it holds, sorted; empty when it could not be read.
      type: list
      elements: str
    error:
      description: Why it could not be read; empty when it was.
      type: str
"""

import os
import tarfile
import typing as t

from ansible.plugins.lookup import LookupBase

from ansible_collections.kubeforge.cluster.plugins.plugin_utils.image_archive import (
    INDEX_MEMBERS,
    ImageArchiveError,
    names_from_members,
)


def _members(path: str) -> dict[str, bytes]:
    """The archive's index members; the layers are skipped, not read."""
    found: dict[str, bytes] = {}
    with tarfile.open(path, "r:*") as archive:
        for member in archive:
            name = member.name[2:] if member.name.startswith("./") else member.name
            if name in INDEX_MEMBERS and member.isfile():
                handle = archive.extractfile(member)
                if handle is not None:
                    found[name] = handle.read()
    return found


def describe(path: str) -> dict[str, t.Any]:
    """The names an archive holds, or why they cannot be told."""
    where = os.path.abspath(os.path.expanduser(path))
    try:
        return {"path": path, "names": names_from_members(_members(where)), "error": ""}
    except FileNotFoundError:
        return {"path": path, "names": [], "error": f"{where} does not exist on the controller"}
    except (OSError, tarfile.TarError) as exc:
        return {"path": path, "names": [], "error": f"{where} cannot be read as a tar archive ({exc})"}
    except ImageArchiveError as exc:
        return {"path": path, "names": [], "error": f"{where}: {exc}"}


class LookupModule(LookupBase):
    """Describe each image archive given."""

    def run(self, terms: list[t.Any], variables: dict[str, t.Any] | None = None, **kwargs: t.Any) -> list[dict[str, t.Any]]:
        self.set_options(var_options=variables, direct=kwargs)
        return [describe(str(term)) for term in terms]
