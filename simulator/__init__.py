"""SimPy market simulator: a declarative scenario and a seed → a relational CRM database.

>>> from simulator import simulate
>>> result = simulate("education_services", seed=7, out="crm.db")   # doctest: +SKIP
>>> result.frames()["orders"].head()                                 # doctest: +SKIP
"""
from .api import SimResult, simulate, student_seed
from .scenario import Scenario, ScenarioError, builtin_scenarios, load_scenario

__all__ = ["SimResult", "Scenario", "ScenarioError", "builtin_scenarios", "load_scenario", "simulate",
           "student_seed"]
