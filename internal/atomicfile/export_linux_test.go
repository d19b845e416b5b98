package atomicfile

var kernelVersionForTest = kernelVersion
