# -*- coding: utf-8 -*-
# Copyright: kubeforge maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure kubeconfig handling: parse, rename, merge, remove, redact and compare.

A kubeconfig fetched from a K3s or kubeadm server names its cluster, user and
context ``default`` (or similar) and points at ``https://127.0.0.1:6443``. The
functions here rename those entries and merge them into another kubeconfig, or
take a cluster's entries out of it again, without touching any other entry. No
file or network access happens here.
"""

from __future__ import annotations

import copy
import traceback
import typing as t
from urllib.parse import urlsplit

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core on the controller
    yaml = None
    HAS_YAML = False
    YAML_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    HAS_YAML = True
    YAML_IMPORT_ERROR = None

SECTIONS = (('clusters', 'cluster'), ('users', 'user'), ('contexts', 'context'))
REDACTED = '<redacted>'
SECRET_KEYS = frozenset((
    'client-key-data',
    'client-certificate-data',
    'token',
    'password',
    'certificate-authority-data',
    'id-token',
    'refresh-token',
    'client-secret',
))


class KubeconfigError(ValueError):
    """Raised when a kubeconfig or a merge parameter is not usable."""


def new_kubeconfig() -> dict[str, t.Any]:
    """Return an empty kubeconfig as kubectl would write it."""
    return {
        'apiVersion': 'v1',
        'kind': 'Config',
        'clusters': [],
        'users': [],
        'contexts': [],
        'preferences': {},
    }


def _check_sections(config: dict[str, t.Any], what: str) -> None:
    for section, dummy in SECTIONS:
        entries = config.get(section)
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise KubeconfigError("%s: '%s' must be a list, found %s." % (what, section, type(entries).__name__))
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get('name'), str):
                raise KubeconfigError(
                    "%s: entry %d of '%s' is not a mapping with a 'name'." % (what, index + 1, section)
                )


def load_kubeconfig(text: str | None, what: str, allow_empty: bool = False) -> dict[str, t.Any] | None:
    """Parse kubeconfig YAML with ``yaml.safe_load`` and check its shape.

    ``what`` names the document in error messages (for example the destination path).
    With ``allow_empty`` an empty document yields ``None`` instead of an error.
    """
    try:
        data = yaml.safe_load(text) if text is not None else None
    except yaml.YAMLError as exc:
        raise KubeconfigError('%s is not valid YAML: %s' % (what, exc)) from exc
    if data is None:
        if allow_empty:
            return None
        raise KubeconfigError('%s is empty.' % what)
    if not isinstance(data, dict):
        raise KubeconfigError('%s is not a kubeconfig: expected a mapping, found %s.' % (what, type(data).__name__))
    if data.get('kind') != 'Config':
        raise KubeconfigError(
            "%s is not a kubeconfig: expected 'kind: Config', found %s."
            % (what, "'kind: %s'" % data['kind'] if 'kind' in data else 'no kind')
        )
    _check_sections(data, what)
    return data


def validate_server(server: str) -> str:
    """Return ``server`` if it is an https URL with a host, else fail."""
    parts = urlsplit(server.strip()) if isinstance(server, str) else None
    if parts is None or parts.scheme != 'https' or not parts.hostname:
        raise KubeconfigError(
            "server '%s' is not an https URL; expected something like https://10.0.0.10:6443." % (server,)
        )
    return server.strip()


def validate_name(name: str) -> str:
    """Return ``name`` if usable as a cluster/user/context name, else fail."""
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise KubeconfigError("name '%s' must be a non-empty string without surrounding white space." % (name,))
    return name


def single_entries(source: dict[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    """Return the only cluster, user and context of ``source``, keyed by their section's singular."""
    found: dict[str, dict[str, t.Any]] = {}
    for section, singular in SECTIONS:
        entries = source.get(section) or []
        if len(entries) != 1:
            names = ', '.join(entry['name'] for entry in entries) or 'none'
            raise KubeconfigError(
                'The source kubeconfig must hold exactly one %s, found %d (%s). Pass the kubeconfig '
                'written by the K3s/kubeadm server, not a merged one.' % (singular, len(entries), names)
            )
        found[singular] = entries[0]
    return found


def renamed_entries(source: dict[str, t.Any], name: str, server: str) -> dict[str, dict[str, t.Any]]:
    """Return the source's cluster, user and context renamed to ``name`` and pointed at ``server``."""
    entries = copy.deepcopy(single_entries(source))

    cluster = entries['cluster']
    cluster_body = cluster.get('cluster')
    if not isinstance(cluster_body, dict):
        raise KubeconfigError("The source kubeconfig's cluster '%s' has no 'cluster' mapping." % cluster['name'])
    cluster_body['server'] = server
    cluster['name'] = name

    entries['user']['name'] = name

    context = entries['context']
    context_body = context.get('context')
    if context_body is not None and not isinstance(context_body, dict):
        raise KubeconfigError("The source kubeconfig's context '%s' has no 'context' mapping." % context['name'])
    context_body = dict(context_body or {})
    context_body['cluster'] = name
    context_body['user'] = name
    context['context'] = context_body
    context['name'] = name
    return entries


def merge_kubeconfig(
    dest: dict[str, t.Any] | None,
    entries: dict[str, dict[str, t.Any]],
    name: str,
    set_current_context: bool = False,
) -> dict[str, t.Any]:
    """Return a copy of ``dest`` with the entries named ``name`` replaced or appended.

    Other entries keep their content and order. ``current-context`` is kept unless
    ``dest`` has none or ``set_current_context`` is true.
    """
    result = copy.deepcopy(dest) if dest is not None else new_kubeconfig()
    for section, singular in SECTIONS:
        existing = list(result.get(section) or [])
        replacement = copy.deepcopy(entries[singular])
        positions = [index for index, entry in enumerate(existing) if entry.get('name') == name]
        if positions:
            existing[positions[0]] = replacement
            # Duplicated names are invalid for kubectl; keep only the first (now replaced) one.
            for index in reversed(positions[1:]):
                del existing[index]
        else:
            existing.append(replacement)
        result[section] = existing
    if set_current_context or not result.get('current-context'):
        result['current-context'] = name
    return result


def remove_entries(dest: dict[str, t.Any], name: str) -> dict[str, t.Any]:
    """Return a copy of ``dest`` without the cluster, user and context named ``name``.

    Other entries keep their content and order. ``current-context`` is dropped when it
    named the removed context: kubectl then has none rather than another cluster's.
    """
    result = copy.deepcopy(dest)
    for section, dummy in SECTIONS:
        if section in result and result[section] is not None:
            result[section] = [entry for entry in result[section] if entry.get('name') != name]
    if result.get('current-context') == name:
        del result['current-context']
    return result


def dangling_contexts(config: dict[str, t.Any]) -> list[str]:
    """Names of the contexts of ``config`` whose cluster or user is not in it."""
    clusters = {entry['name'] for entry in config.get('clusters') or []}
    users = {entry['name'] for entry in config.get('users') or []}
    dangling = []
    for entry in config.get('contexts') or []:
        body = entry.get('context') if isinstance(entry.get('context'), dict) else {}
        if body.get('cluster') not in clusters or ('user' in body and body['user'] not in users):
            dangling.append(entry['name'])
    return dangling


def plan_removal(dest_text: str | None, name: str, dest_label: str = 'the destination kubeconfig') -> dict[str, t.Any]:
    """Compute the removal of the entries named ``name`` without touching any file.

    ``dest_text`` is ``None`` when the destination does not exist, which needs no change.
    Returns ``before``, ``after``, ``changed``, ``removed`` (``section/name`` of each entry
    taken away) and ``dangling`` (other contexts left pointing at a cluster or user that is
    gone, which the removal does not touch).
    """
    validate_name(name)
    before = load_kubeconfig(dest_text, dest_label, allow_empty=True) if dest_text is not None else None
    if before is None:
        return {'before': before, 'after': before, 'changed': False, 'removed': [], 'dangling': []}
    after = remove_entries(before, name)
    removed = ['%s/%s' % (section, name) for section, dummy in SECTIONS
               if any(entry.get('name') == name for entry in before.get(section) or [])]
    dangling = [context for context in dangling_contexts(after) if context not in dangling_contexts(before)]
    return {'before': before, 'after': after, 'changed': not configs_equal(before, after), 'removed': removed,
            'dangling': dangling}


def redact(data: t.Any) -> t.Any:
    """Return a deep copy of ``data`` with credential values replaced by ``<redacted>``."""
    if isinstance(data, dict):
        return {
            key: (REDACTED if key in SECRET_KEYS and value not in (None, '') else redact(value))
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [redact(item) for item in data]
    return data


def dump_kubeconfig(data: dict[str, t.Any]) -> str:
    """Serialise a kubeconfig the way it is written to disk."""
    return yaml.safe_dump(data, default_flow_style=False, sort_keys=False)


def configs_equal(before: dict[str, t.Any] | None, after: dict[str, t.Any] | None) -> bool:
    """Compare two parsed kubeconfigs as data, ignoring formatting and comments."""
    return before == after


def parse_mode(mode: t.Any) -> int:
    """Turn an octal mode given as a string (``'0600'``) or an integer (YAML ``0600``) into an int."""
    if isinstance(mode, bool):
        raise KubeconfigError('mode must be an octal number such as 0600, got a boolean.')
    if isinstance(mode, int):
        value = mode
    elif isinstance(mode, str):
        text = mode.strip()
        if text.lower().startswith('0o'):
            text = text[2:]
        if not text or any(char not in '01234567' for char in text):
            raise KubeconfigError(
                "mode '%s' is not an octal number; use a quoted octal string such as '0600' "
                '(symbolic modes are not supported).' % mode
            )
        value = int(text, 8)
    else:
        raise KubeconfigError("mode must be an octal string such as '0600', got %s." % type(mode).__name__)
    if not 0 <= value <= 0o7777:
        raise KubeconfigError("mode '%s' is out of range; use a value between 0000 and 7777." % (mode,))
    return value


def plan_merge(
    source_text: str,
    dest_text: str | None,
    name: str,
    server: str,
    set_current_context: bool = False,
    dest_label: str = 'the destination kubeconfig',
) -> dict[str, t.Any]:
    """Compute the merge without touching any file.

    ``dest_text`` is ``None`` when the destination does not exist. Returns
    ``before`` (parsed destination or ``None``), ``after`` (merged data) and
    ``changed`` (data differs).
    """
    validate_name(name)
    server = validate_server(server)
    source = load_kubeconfig(source_text, 'The source kubeconfig (content)')
    if source is None:  # pragma: no cover - load_kubeconfig raises instead
        raise KubeconfigError('The source kubeconfig (content) is empty.')
    before = load_kubeconfig(dest_text, dest_label, allow_empty=True) if dest_text is not None else None
    entries = renamed_entries(source, name, server)
    after = merge_kubeconfig(before, entries, name, set_current_context)
    return {'before': before, 'after': after, 'changed': not configs_equal(before, after)}
