/** The shape of a parsed OBO 1.2/1.4 document (Gene Ontology releases and the like). */

/** A cross-reference such as `PMID:123` with an optional quoted description. */
export interface Dbxref {
  id: string;
  description?: string;
}

/** A synonym line: text, scope, optional synonym type and its dbxref list. */
export interface Synonym {
  text: string;
  scope: "EXACT" | "BROAD" | "NARROW" | "RELATED";
  type?: string;
  xrefs: Dbxref[];
}

/** One `intersection_of` clause: a genus (`relation` absent) or a differentia. */
export interface Intersection {
  relation?: string;
  target: string;
}

/** A [Term] stanza. Tags gotune does not model are kept verbatim in `other`. */
export interface OboTerm {
  id: string;
  name?: string;
  namespace?: string;
  def?: { text: string; xrefs: Dbxref[] };
  comment?: string;
  synonyms: Synonym[];
  isA: string[];
  relationships: { type: string; target: string }[];
  intersectionOf: Intersection[];
  altIds: string[];
  isObsolete: boolean;
  replacedBy: string[];
  consider: string[];
  subsets: string[];
  xrefs: Dbxref[];
  /** Any other tag, as tag -> raw values (escapes resolved, modifiers and comments removed). */
  other: Record<string, string[]>;
  /** 1-based line of the stanza's `[Term]` header, for error messages. */
  line: number;
}

/** A [Typedef] stanza (a relation type such as part_of). */
export interface OboTypedef {
  id: string;
  name?: string;
  isTransitive: boolean;
  tags: Record<string, string[]>;
  line: number;
}

/** An [Instance] stanza. */
export interface OboInstance {
  id: string;
  name?: string;
  instanceOf?: string;
  tags: Record<string, string[]>;
  line: number;
}

/** The header frame: the well-known tags and every tag as raw values. */
export interface OboHeader {
  formatVersion?: string;
  dataVersion?: string;
  ontology?: string;
  date?: string;
  tags: Record<string, string[]>;
}

/** A whole document. `obsoleteSkipped` counts [Term]s left out because they are obsolete. */
export interface OboDocument {
  header: OboHeader;
  terms: OboTerm[];
  typedefs: OboTypedef[];
  instances: OboInstance[];
  obsoleteSkipped: number;
  /** Counted, non-fatal problems (e.g. a term with no definition), each with file and line. */
  warnings: string[];
}

/** Options for parsing. */
export interface ParseOptions {
  /** Keep obsolete terms (skipped by default, as obonet does). */
  keepObsolete?: boolean;
  /** The name used in error messages (the file path). */
  source?: string;
}
