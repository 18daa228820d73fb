# Longtail image for web and workers. TORCH_INDEX picks the torch build: the CPU wheel index by
# default; the GPU worker builds with TORCH_INDEX=https://download.pytorch.org/whl/cu128.
FROM python:3.11-slim
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --index-url "$TORCH_INDEX" torch==2.13.0 \
 && pip install -r requirements.txt
COPY . .
# Static files are built the production way: DEBUG=0 selects the hashed manifest storage
# (config/storage.py) that the web service serves through WhiteNoise. Settings refuse DEBUG=0
# without a SECRET_KEY; collectstatic signs nothing, so a throwaway key is enough here and the
# real one only ever comes from the environment at run time.
RUN DEBUG=0 SECRET_KEY=collectstatic-build-only-not-a-secret python manage.py collectstatic --noinput
# The app runs as longtail, so every folder it writes must be longtail's in the image. /data is
# where docker-compose.yml mounts the named volume `artifacts` (MEDIA_ROOT=/data/media for uploads,
# LONGTAIL_ARTIFACT_DIR=/data/artifacts for model files): a new named volume takes the ownership of
# the image's folder on its first mount, whereas a folder missing from the image is created
# root-owned and every upload failed with a PermissionError (docs/operations.md, Upgrades, for a
# volume created before this).
RUN useradd --create-home longtail \
 && mkdir -p /app/var /data/media /data/artifacts \
 && chown -R longtail:longtail /app/var /data
USER longtail
EXPOSE 8000
# config/gunicorn.conf.py: bind, workers and timeout from the environment; each worker loads the
# encoder once before it takes requests (docs/operations.md).
CMD ["gunicorn", "config.wsgi:application", "-c", "config/gunicorn.conf.py"]
