#!/bin/sh
# Restore this etcd member from the snapshot $1, as etcd's disaster recovery does it on every member: a new data
# directory made from the snapshot with the member's own name, peer URL, initial cluster and token (from
# /etc/default/etcd, written by the kubeforge.cluster.datastore role), put in place of the old one. etcd must be
# stopped. A directory left by an interrupted run is made again.
set -eu
. /etc/default/etcd
rm -rf "$ETCD_DATA_DIR.restore"
ETCDCTL_API=3 etcdctl snapshot restore "$1" --name "$ETCD_NAME" --initial-cluster "$ETCD_INITIAL_CLUSTER" \
    --initial-cluster-token "$ETCD_INITIAL_CLUSTER_TOKEN" --initial-advertise-peer-urls "$ETCD_INITIAL_ADVERTISE_PEER_URLS" \
    --data-dir "$ETCD_DATA_DIR.restore"
chown -R etcd:etcd "$ETCD_DATA_DIR.restore"
chmod 0700 "$ETCD_DATA_DIR.restore"
rm -rf "$ETCD_DATA_DIR"
mv "$ETCD_DATA_DIR.restore" "$ETCD_DATA_DIR"
