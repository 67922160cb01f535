# reasoner in a container: the plain install of the README (see README, In CI).
#   docker build -t reasoner .
#   docker run --rm -v "$PWD:/work" -w /work reasoner lint manifests/
FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
RUN pip install .
WORKDIR /work
ENTRYPOINT ["reasoner"]
