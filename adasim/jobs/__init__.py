"""The jobs of the application, each built from the packages it brings together.

:mod:`~adasim.jobs.run_analysis` (the A/B report, the twin's truth and the lift table of a
finished run), :mod:`~adasim.jobs.ope_run` (the treatment estimated offline from the
control's log), :mod:`~adasim.jobs.offline_run` (base models and frameworks compared on a
log, whose data set :mod:`~adasim.jobs.offline_data` names and reads),
:mod:`~adasim.jobs.sweep` and :mod:`~adasim.jobs.sweep_backends` (many experiments,
serially, in processes or on Ray), :mod:`~adasim.jobs.diagnose` (the world's premise),
:mod:`~adasim.jobs.tune` (every arm's learning rate and embedding size, one procedure for
all) and :mod:`~adasim.jobs.tuned_run` (a run with the tuned values).
"""
