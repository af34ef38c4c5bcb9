"""Many hosts, one site: each host's name, the live hosts on the shared Redis, which host runs which camera
(rendezvous hashing with bounded load, pins first), the leases that make it exactly one, and the coordinator that
keeps them (docs/deployment.md#one-site-on-many-hosts)."""
