package serve

// SetWorkflowReadHook runs f between a workflow's read and its keeping
// (workflowOf), until the returned function restores none.
func SetWorkflowReadHook(f func()) (restore func()) {
	testHookWorkflowRead = f
	return func() { testHookWorkflowRead = nil }
}
