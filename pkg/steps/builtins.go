package steps

// Default returns every built-in action, registered by name and alias.
func Default() *Set {
	return NewSet(
		// one line per built-in, in the order of the pipeline
		Checkout{},
		UploadArtifact{},
		DownloadArtifact{},
		GitCommitPush{},
		ValidateManifests{},
		&BuildImage{},
		TestImage{},
		PushImage{},
		RenderTemplates{},
		LintYAML{},
	)
}
