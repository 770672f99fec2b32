# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The sync engine: plain Python classes that run a sync of one pairing (no
models). Its contract is in run.py."""
