"""Local LoRA / QLoRA fine-tuning with unsloth or transformers + peft + trl: `run.run(TrainInput) -> TrainResult`.

The run folder (OUTPUT), which `tunewise eval` and `tunewise serve` load:

    OUTPUT/adapter/          adapter_model.safetensors, adapter_config.json (base_model_name_or_path), tokenizer
                             files, chat_template.jinja (the template trained with), generation_config.json (its
                             eos_token_id lists the end-of-turn token, so generation stops where training did)
    OUTPUT/run.json          inputs, data_sha256, hyperparameters, device ("cpu" / "cuda:NVIDIA H200"),
                             tokens_trained, tokens_per_second, wall_seconds, final_loss, best_eval_loss, warnings,
                             status (running | succeeded | stopped_early | interrupted | failed), base_model,
                             adapter_dir, end_of_turn, steps, total_steps, peak_vram_gib (CUDA), dtype,
                             quantized_4bit, processes (1, or N under --launcher accelerate), launcher,
                             device_facts (GPU count, compute capability, launcher, processes, CPU bf16: what
                             tools/train/device.py decided precision, optimizer and placement on)
    OUTPUT/metrics.jsonl     one record per logging step: step, loss, learning_rate, tokens_per_second, eval_loss
    OUTPUT/loss.png          train and eval loss curves
    OUTPUT/checkpoints/      checkpoint-N/ folders; only those holding TUNEWISE_COMPLETE are whole
    OUTPUT/train.log         the unsloth worker's or the launched processes' own output
    OUTPUT/accelerate_config.yaml   --launcher accelerate: the config the processes ran with
    OUTPUT/merged/           --merge: the adapter folded into 16-bit weights, with tokenizer and template
    OUTPUT/gguf/, gguf_gguf/ --gguf: GGUF files from unsloth's exporter (its GPU exporter writes the sibling)
    OUTPUT/Modelfile         --merge / --gguf: Ollama Modelfile with the same template and stop tokens
"""
