"""Studies: grids of training runs over models, datasets and seeds, with seed statistics.

``grid`` defines the runs and their folders, ``runner`` trains them (resumable, N at a time),
``statistics`` holds the intervals, ``summary`` computes a study's numbers from its run files,
``output`` writes its table, JSON and plot, and ``report_section`` puts every study found under
a folder into ``optnet report``. The command is :mod:`optnet_nets.commands.study`.
"""
