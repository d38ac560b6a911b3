"""The subcommands of the ``kubeadm`` double, one module each (``kubeadm_cmd.py`` dispatches).

``base`` holds what every subcommand shares (flag parsing, ``Fail``, output);
``control_plane``, ``kubelet_start``, ``patches``, ``waits`` and ``apiclient``
the phases and calls that ``init`` and ``join`` both run.
"""
