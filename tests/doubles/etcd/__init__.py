"""kubeforge test doubles of etcd's client tools, ``etcdctl`` and ``etcdutl`` (etcd 3.6), built into an etcd
release archive by tests/doubles/build.py.  See README.md."""
