"""Several slamond on one PostgreSQL (issue 15, SPEC §3.13, docs/cluster.md).

* ``node``: a node's life in the cluster: registration and heartbeat, the placement of
  services by leases (store/cluster.py), the singletons it holds, the regions present;
* ``leadership``: the one-node-at-a-time primitive (``Leadership.leads(name)``) that
  auto-incidents, retention and partition maintenance and alert sending run under;
* ``notify``: events across nodes (LISTEN/NOTIFY; the data in ``cluster_events``);
* ``health``: what a node measures of itself, and when it is flagged sick.

The quorum of regions lives with the rest of the status rules, in state.py.
"""
