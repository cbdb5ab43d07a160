package namedext

// Comment typealias has a comment explaining what it is
//
//ftl:typealias
type Comment string

// EmailConsent indicates wether someone has opted in or out of email communications.
// Consent is important and this is a second line of comments.
//
//ftl:enum
type EmailConsent string

const (
	EmailConsentOptOut EmailConsent = "opt_out"
	EmailConsentOptIn  EmailConsent = "opt_in"
)

// Shared should export consent and comment
//
//ftl:data export
type Shared struct {
	Consent EmailConsent
	Comment Comment
}
