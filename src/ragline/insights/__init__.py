"""What production use tells: A/B experiments (sticky assignment, per-variant reports with
significance), feedback analytics and golden evaluation sets built from rated traces.

Reads the service's state (:mod:`ragline.service_state`) and settings only, so the server, the CLI and
the evaluation code share it without loading the engine.

Example::

    from ragline.insights.experiments import experiment_report
    report = experiment_report(state, settings, "rerank", tenant="acme")
"""
