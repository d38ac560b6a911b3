"""What the K3s double and the kubeadm/kubelet doubles share (stdlib only).

One concern a module: ``hostarch`` (machine names, the arch guard),
``versions`` (release tags, Go toolchains), ``yamlscalar`` (YAML 1.1 scalar
rules both YAML readers follow), ``timestamps`` (RFC 3339), ``keystream``
(the HMAC-SHA256 stream cipher of sealed blobs), ``wire`` (socket reads and
HTTP replies), ``netaddr`` (the routed IPv4 address) and ``nodes`` (Node
object details).

From the source tree this is the top-level package ``common`` (tests/doubles
on sys.path); tests/doubles/build.py embeds it under the same name in every
built program.
"""
