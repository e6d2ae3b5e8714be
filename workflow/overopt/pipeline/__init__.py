"""The workflow's machinery: what Snakemake and DVC need to run the science, and nothing of it.

Job context (``job``), the config each rule reads and the code it runs (``settings``, ``deps``,
``canonical``), DVC stages (``dvc_stages``), cluster resources (``resources``), multi-GPU
relaunch (``launch``), provenance manifests (``provenance``), the config check run before any
job (``checks``) and the comparison with a recorded study (``verify``). The job scripts stand
above it; no module of the science (``core`` ... ``analysis``) imports it.
"""
