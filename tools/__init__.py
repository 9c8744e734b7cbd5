"""tunewise tools: the bottom layer of typed capabilities, one subpackage per stage of the pipeline.

- dataset/     validate a training file and split off a held-out set (`tunewise validate`, `split`)
- costs/       prices, catalogs, VRAM and GPU time: every path's cost (`tunewise estimate`); data/ holds the
               dated price and model files
- rag/         load, chunk, embed, index and search documents (`tunewise index`, `search`)
- train/       local LoRA / QLoRA fine-tuning (`tunewise train --backend unsloth|hf`)
- openai_ft/   OpenAI fine-tuning and its jobs (`tunewise train --backend openai`, `jobs`)
- evaluation/  held-out evaluation with bootstrap intervals (`tunewise eval`)
- models/      model specs and generation, local or OpenAI-compatible
- deploy/      the deployment folder (`tunewise deploy`); serving/ serves it (`tunewise serve`)

Nothing here imports agent/ or graphs/, and no tool builds its own clients: they come in as arguments, built by
the callers with clients.py, rag/embedders.py and builders.py. See ARCHITECTURE.md.
"""
