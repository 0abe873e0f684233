"""`netready monitor`: scheduled scans of many portals, their history in a database, alerts, metrics, an API.

Small modules, one job each: `db` (tables, engine, migrations), `facts` (days to certificate and RRSIG expiry,
reachability, from observations), `store` (recording scans, status, history, diff), `schedule` (what is due,
one round, the loop), `alerts` (events and channels), `metrics` (Prometheus), `api` (FastAPI service),
`tasks` (Celery, one queue per vantage point), `texts` (Vietnamese and English words), `firstseen` (this
database as the "first seen" history of VN-IPV6-ONLY).
Celery, FastAPI and Prometheus are imported only by the modules that need them, so `netready check` never pays
for them. See docs/monitor.md.
"""
