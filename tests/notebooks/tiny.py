# %% [markdown]
# # Tiny study (runner test)
# A minimal notebook that uses the same calls as a study notebook.

# %% tags=["parameters"]
profile = "smoke"
seed = 0
data_source = "sim-chapman"
device = "cpu"
n_values = 10
fail_in_cell = False
output_dir = None

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import ecglib.params
import ecglib.report
import ecglib.runner

cfg = ecglib.params.check("tiny", globals())
run = ecglib.runner.start_run(cfg, output_dir=output_dir)

# %%
with run.stage("compute"):
    values = np.random.default_rng(cfg.seed).normal(size=cfg.n_values)
    table = pd.DataFrame({"index": np.arange(cfg.n_values), "value": values})
ecglib.report.save_table(run, table, "table1_values", caption="seeded normal draws")

# %%
if cfg.fail_in_cell:
    raise RuntimeError("failing on purpose")

# %%
fig, ax = plt.subplots()
ax.plot(values)
ecglib.report.save_figure(run, fig, "fig1_values")
run.finish(metrics={"mean_value": float(values.mean()), "n_values": cfg.n_values})
