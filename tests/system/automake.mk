SYSTEM_TESTS += tests/system/test-pipeline.sh
EXTRA_DIST += tests/system/bed.sh tests/system/agent.sh
SYSTEM_TESTS += tests/system/test-bed.sh
