"""The descriptor pool of the Open Inference Protocol's messages (proto package `inference`).

Not the default pool: tritonclient and KServe's SDK register the same full names from their own file
names, and the default pool refuses a second definition, so the SDK could not share a process with them.
Look our services up through `maas.descriptors.find_service`, which knows both pools.
"""

from google.protobuf import descriptor_pool

POOL = descriptor_pool.DescriptorPool()
