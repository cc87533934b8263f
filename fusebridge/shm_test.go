package fusebridge_test

func shmChild(name string) int { return 1 }
