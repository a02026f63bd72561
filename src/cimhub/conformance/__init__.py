"""The conformance suite: cases as data, a runner that drives any CIM endpoint, reports.

A case is a folder `cases/<role>/<Noun>/<verb>/<NNN-slug>/` holding the request, the
expected reply and a `case.toml` (see conformance/README.md). The same cases drive our
own hub in CI and any vendor's MDM, HES or subscriber before go-live.

Modules: `case` (the model), `loader` (folders → cases), `canonical` (reply comparison),
`observed` (what came back), `transport` (HTTP, SOAP, AMQP), `check` (expectations →
problems), `runner`, `report` (console), `junit`, `html`, `hostile` (generated hostile
bodies), `fake` / `fake_hes` / `fake_subscriber` (endpoints to test the suite itself),
`command` (the `cimhub conformance` subcommands).
"""
