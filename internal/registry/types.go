package registry

// Ownership tags of registered models.
const (
	TagOwner   = "mlship.owner"   // the team or person that owns the model
	TagContact = "mlship.contact" // how to reach the owner: an address, a channel
)

// TagIsPrompt marks a registered model that holds prompts (MLflow's prompt registry).
// Searches leave prompts out unless the filter asks for them.
const TagIsPrompt = "mlflow.prompt.is_prompt"

// Stages of model versions, as MLflow names them.
const (
	StageNone       = "None"
	StageStaging    = "Staging"
	StageProduction = "Production"
	StageArchived   = "Archived"
)

// Stages lists the stages in MLflow's order.
var Stages = []string{StageNone, StageStaging, StageProduction, StageArchived}

// StatusReady is the status of every version: registration is synchronous.
const StatusReady = "READY"

// Tag is a key and a value attached to a registered model or a version.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Alias is a name for one version of a registered model.
type Alias struct {
	Alias   string `json:"alias"`
	Version string `json:"version"`
}

// RegisteredModel is a named model and what is known about its versions.
type RegisteredModel struct {
	Name                 string          `json:"name"`
	CreationTimestamp    int64           `json:"creation_timestamp"`
	LastUpdatedTimestamp int64           `json:"last_updated_timestamp"`
	Description          string          `json:"description,omitempty"`
	UserID               string          `json:"user_id,omitempty"`
	LatestVersions       []*ModelVersion `json:"latest_versions,omitempty"` // the newest of each stage
	Tags                 []Tag           `json:"tags,omitempty"`
	Aliases              []Alias         `json:"aliases,omitempty"`

	id int64
}

// ModelVersion is one numbered version of a registered model.
type ModelVersion struct {
	Name                 string   `json:"name"`
	Version              string   `json:"version"`
	CreationTimestamp    int64    `json:"creation_timestamp"`
	LastUpdatedTimestamp int64    `json:"last_updated_timestamp"`
	UserID               string   `json:"user_id,omitempty"`
	CurrentStage         string   `json:"current_stage"`
	Description          string   `json:"description,omitempty"`
	Source               string   `json:"source"`
	RunID                string   `json:"run_id,omitempty"`
	Status               string   `json:"status"`
	StatusMessage        string   `json:"status_message,omitempty"`
	Tags                 []Tag    `json:"tags,omitempty"`
	RunLink              string   `json:"run_link,omitempty"`
	Aliases              []string `json:"aliases,omitempty"`

	// StorageLocation is where the version's artifacts are: the source, or what a
	// models:/ source resolved to. It is the version's download URI.
	StorageLocation string `json:"-"`
	// ModelID is the logged model the version was registered from, if any. MLflow's
	// open-source server does not send it.
	ModelID string `json:"-"`
	// ManifestDigest names the content-addressed manifest of the files the version was
	// created with ("sha256:..."), or is empty when they are not stored here.
	ManifestDigest string `json:"-"`

	rmID int64
	num  int64
}
