"""The application: the `logo` command and everything that drives the lower layers together.

It sits on top of every other package (logo < data < model, library < dream < app) and nothing
imports it back.

* `app.cli`: the `logo` command; it imports each area's `register(subparsers)`.
* `app.render`: `logo render` and `logo tasks` (draw programs and the DreamCoder task sheet).
* `app.solve`: `logo solve` (search with a checkpoint on a set of targets, with a report).
* `app.serve`: `logo db serve`, a local web page over a database (`app.web`: the application).
* `app.run`: `logo run`, the supervised, resumable learning loop (train + dream, evaluate, compress).
* `app.report`: the HTML report of a `logo run`.
"""
