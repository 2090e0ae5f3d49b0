"""Generated protobuf module for the kubelet PodResources v1 API (see the .proto file).

Regenerate with ``scripts/gen-podresources.sh``; import lazily (it pulls in protobuf).
"""
