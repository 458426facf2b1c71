package mlflowapi

// registryRoutes are the model registry's endpoints.
func (a *API) registryRoutes() []route { return nil }
