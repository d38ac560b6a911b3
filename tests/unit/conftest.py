# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make ``ansible_collections.kubeforge.cluster`` importable under plain pytest.

``ansible-test units`` already installs Ansible's collection loader; plain
``pytest tests/unit`` does not. In that case this installs the collection loader
for a directory holding ``ansible_collections/kubeforge/cluster``: the checkout's
own parents when it already lives at such a path, else the repository's
``collections/`` link tree when present, else a temporary tree
``<tmp>/ansible_collections/kubeforge/cluster -> <repository root>``. Tests and
plugins then use the same ``ansible_collections.kubeforge.cluster...`` imports as
in production, and plugin loaders (lookup, filter, module) find the collection
by its FQCN.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile

COLLECTION_NAMESPACE = 'kubeforge'
COLLECTION_NAME = 'cluster'
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _collections_root() -> str:
    """Return a directory holding ``ansible_collections/kubeforge/cluster`` for this repository."""
    real_root = os.path.realpath(REPO_ROOT)
    parts = real_root.split(os.sep)
    if parts[-3:] == ['ansible_collections', COLLECTION_NAMESPACE, COLLECTION_NAME]:
        return os.sep.join(parts[:-3]) or os.sep

    # The repository may carry collections/ansible_collections/kubeforge/cluster -> ../../.. itself.
    in_repo = os.path.join(real_root, 'collections')
    in_repo_link = os.path.join(in_repo, 'ansible_collections', COLLECTION_NAMESPACE, COLLECTION_NAME)
    if os.path.realpath(in_repo_link) == real_root:
        return in_repo

    tmp = tempfile.mkdtemp(prefix='kubeforge-collections-')
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)  # removes the link, never its target
    namespace_dir = os.path.join(tmp, 'ansible_collections', COLLECTION_NAMESPACE)
    os.makedirs(namespace_dir)
    os.symlink(real_root, os.path.join(namespace_dir, COLLECTION_NAME))
    return tmp


def _install_collection_loader() -> None:
    # pylint: disable-next=import-outside-toplevel
    from ansible.utils.collection_loader import AnsibleCollectionConfig

    if AnsibleCollectionConfig.collection_finder is not None:
        return  # ansible-test (or another conftest) already set things up

    # pylint: disable-next=import-outside-toplevel
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    root = _collections_root()
    if root not in sys.path:
        sys.path.insert(0, root)
    # Forget any plain namespace package imported before the loader existed.
    for module_name in [name for name in sys.modules if name == 'ansible_collections' or name.startswith('ansible_collections.')]:
        del sys.modules[module_name]
    _AnsibleCollectionFinder(paths=[root])._install()  # pylint: disable=protected-access


_install_collection_loader()
