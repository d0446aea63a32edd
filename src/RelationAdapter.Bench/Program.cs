using RelationAdapter.Bench;

// Benchmarks that print numbers (speed and memory targets live here, not in unit tests).
var command = args.FirstOrDefault() ?? "help";
var options = BenchOptions.Parse(args.Skip(1).ToArray());
switch (command)
{
    case "safetensors":
        SafetensorsBenchmark.Run(options);
        break;
    case "dit":
        DitBenchmark.Run(options);
        break;
    case "vae":
        VaeBenchmark.Run(options);
        break;
    case "edit":
        return EditBenchmark.Run(options);
    case "blocks":
        return BlocksBenchmark.Run(options);
    case "parity":
        return ParityBenchmark.Run(options);
    case "load":
        return LoadBenchmark.Run(options);
    case "resident":
        ResidentBenchmark.Run(options);
        break;
    case "scale":
        return ScaleBenchmark.Run(options);
    case "train":
        return TrainBenchmark.Run(options);
    default:
        Console.WriteLine("""
            usage: dotnet run -c Release --project src/RelationAdapter.Bench -- <command> [--name value ...]
              safetensors  [--gb 4] [--dir /tmp]        load throughput vs a plain sequential read, and peak RSS
              dit          [--width 512 --heads 4 --double 4 --single 8 --image-tokens 512 --text-tokens 64
                            --relation-tokens 32 --warmup 2 --iterations 10 --threads 0 --device cpu]
                           DiT forward time, FLOPs, GFLOP/s against the machine's float32 GEMM rate
              vae          [--size 512 --tile 32]       FLUX VAE decode time and peak-RSS growth, tiled then untiled
              resident     [--device cpu]               bytes per component: the tiny preset, and FLUX.1-dev (bf16)
              blocks       [--device cpu|cuda --size 512 --precision bf16|fp8 --iterations 20]
                           one double and one single block at an edit's token counts, as flux_peer.py SIDE STEPS blocks
              parity       [--golden tests/data/golden/tiny-v1 --device cuda --dtype float32,bfloat16]
                           the golden pipeline cases on the device (TF32 off): relL2 of latents and image vs bounds
              load         [--device cpu|cuda --preset tiny|flux1-dev --dir /tmp/... --precision bf16|fp8 --offload true --lora-rank 128 --keep false]
                           writes random weights in the real layouts (sharded FLUX.1-dev folder, adapter .bin, PEFT LoRA,
                           T5/CLIP/SigLIP folders), loads them as the service does: load time, peak RSS, GPU memory
              edit         [--device cpu|cuda --preset tiny|flux1-dev --size 512 --steps 24 --precision bf16|fp8
                            --cache-threshold 0 --batch 1 --offload false --seed 42 --warmup-steps 2 --compare true --tf32 false]
                           the whole edit with random weights (drawn on the device): stage times, median step, peak
                           memory; with fp8 or a cache also the bf16 uncached run: "relL2 vs bf16:" and the speed-up
              train        [--device cpu|cuda --preset tiny|flux1-dev --size 512 --rank 128 --train both|adapter|lora --steps 5 --threads 0]
                           one training step (flow-matching loss, backward, AdamW) with random weights: median step time, peak memory
              scale        [--jobs 40 --rounds 3 --steps 1 --workers 3 --warmup 3 --torch-threads 1 --redis-server /usr/bin/redis-server
                            --service <dll>]
                           the service as processes on the tiny preset: memory backend vs redis (api + 1..3 workers):
                           latency one at a time (median, p90), jobs/s all at once, per-job coordination overhead
            """);
        break;
}
return 0;
