"""gitops-runner: Flux v2 repositories rendered, validated, planned and applied from CI.

The pipeline, one package per stage:
discover -> render -> validate -> plan -> apply (wait, prune) -> report -> publish.
"""

__version__ = "0.1.0"
