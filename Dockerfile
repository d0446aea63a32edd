# syntax=docker/dockerfile:1.7
# RelationAdapter.Service for NVIDIA GPUs. Build:  docker build -t relation-adapter-service .
# Run:    docker run --gpus all -p 8080:8080 -v /srv/weights:/weights:ro relation-adapter-service
# Weights are mounted read-only at /weights (layout in README.md); configure with Model__* variables.

FROM mcr.microsoft.com/dotnet/sdk:10.0-noble AS build
WORKDIR /src
COPY Directory.Build.props Directory.Build.targets RelationAdapter.Service.sln appsettings.json ./
COPY build/ build/
COPY src/RelationAdapter.Core/RelationAdapter.Core.csproj src/RelationAdapter.Core/
COPY src/RelationAdapter.Jobs/RelationAdapter.Jobs.csproj src/RelationAdapter.Jobs/
COPY src/RelationAdapter.Jobs.Redis/RelationAdapter.Jobs.Redis.csproj src/RelationAdapter.Jobs.Redis/
COPY src/RelationAdapter.Service/RelationAdapter.Service.csproj src/RelationAdapter.Service/
COPY src/RelationAdapter.Train/RelationAdapter.Train.csproj src/RelationAdapter.Train/
# TorchBackend=cuda swaps libtorch-cpu for TorchSharp-cuda-linux (libtorch with CUDA 12.8 and its libraries).
RUN dotnet restore src/RelationAdapter.Service/RelationAdapter.Service.csproj -r linux-x64 -p:TorchBackend=cuda \
 && dotnet restore src/RelationAdapter.Train/RelationAdapter.Train.csproj -r linux-x64 -p:TorchBackend=cuda
COPY src/RelationAdapter.Core/ src/RelationAdapter.Core/
COPY src/RelationAdapter.Jobs/ src/RelationAdapter.Jobs/
COPY src/RelationAdapter.Jobs.Redis/ src/RelationAdapter.Jobs.Redis/
COPY src/RelationAdapter.Service/ src/RelationAdapter.Service/
COPY src/RelationAdapter.Train/ src/RelationAdapter.Train/
RUN dotnet publish src/RelationAdapter.Service/RelationAdapter.Service.csproj -c Release -r linux-x64 --self-contained false \
      --no-restore -p:TorchBackend=cuda -p:ExportOpenApi=false -o /app
# The training tool, run from this image by deploy/components/train.
RUN dotnet publish src/RelationAdapter.Train/RelationAdapter.Train.csproj -c Release -r linux-x64 --self-contained false \
      --no-restore -p:TorchBackend=cuda -o /app/train

FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble AS aspnet

FROM nvidia/cuda:12.8.1-base-ubuntu24.04 AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl libicu74 libgomp1 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=aspnet /usr/share/dotnet /usr/share/dotnet
RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet \
 && groupadd --gid 10001 app && useradd --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app \
 && mkdir -p /weights && chown app:app /weights
WORKDIR /app
COPY --from=build --chown=root:root /app ./

ENV ASPNETCORE_HTTP_PORTS=8080 \
    DOTNET_RUNNING_IN_CONTAINER=true \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    Model__Preset=flux1-dev \
    Model__Device=cuda \
    Model__FluxDirectory=/weights/FLUX.1-dev \
    Model__SiglipDirectory=/weights/siglip-so400m-patch14-384 \
    Model__AdapterPath=/weights/RelationAdapter/ip_adapter-100000.bin \
    Model__LoraPath=/weights/RelationAdapter/pytorch_lora_weights.safetensors

USER app
EXPOSE 8080
VOLUME ["/weights"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=20m --retries=3 \
  CMD curl -fsS http://localhost:8080/healthz || exit 1
ENTRYPOINT ["dotnet", "RelationAdapter.Service.dll"]
