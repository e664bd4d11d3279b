//! The realistic sample catalogue: nf-core pipelines, people, genomes, errors.

/// (name, description, latest revision, typical runtime in minutes, extra params JSON fragment)
pub const PIPELINES: &[(&str, &str, &str, u32, &str)] = &[
    ("rnaseq", "RNA sequencing analysis pipeline using STAR, RSEM, HISAT2 or Salmon with gene/isoform counts and extensive quality control", "3.14.0", 240, r#""aligner":"star_salmon","pseudo_aligner":"salmon""#),
    ("sarek", "Analysis pipeline to detect germline or somatic variants (pre-processing, variant calling and annotation) from WGS / targeted sequencing", "3.4.2", 720, r#""tools":"haplotypecaller,vep","wes":false"#),
    ("atacseq", "ATAC-seq peak-calling and QC analysis pipeline", "2.1.2", 180, r#""read_length":150,"narrow_peak":true"#),
    ("chipseq", "ChIP-seq peak-calling, QC and differential analysis pipeline", "2.0.0", 200, r#""macs_gsize":2.7e9,"narrow_peak":false"#),
    ("methylseq", "Methylation (Bisulfite-Sequencing) Best Practice analysis pipeline, part of the nf-core community", "2.6.0", 480, r#""aligner":"bismark","rrbs":false"#),
    ("ampliseq", "Amplicon sequencing analysis workflow using DADA2 and QIIME2", "2.9.0", 90, r#""FW_primer":"GTGYCAGCMGCCGCGGTAA","RV_primer":"GGACTACNVGGGTWTCTAAT""#),
    ("mag", "Assembly and binning of metagenomes", "2.5.4", 900, r#""skip_spades":false,"binning_map_mode":"group""#),
    ("viralrecon", "Assembly and intrahost/low-frequency variant calling for viral samples", "2.6.0", 60, r#""platform":"illumina","protocol":"amplicon""#),
    ("nanoseq", "Nanopore demultiplexing, QC and alignment pipeline", "3.1.0", 150, r#""protocol":"cDNA","skip_basecalling":true"#),
    ("hic", "Analysis of Chromosome Conformation Capture data (Hi-C)", "2.1.0", 360, r#""digestion":"dpnii","bin_size":"1000000""#),
    ("cutandrun", "Analysis pipeline for CUT&RUN and CUT&TAG experiments that includes sequencing QC, spike-in normalisation and peak calling", "3.2.2", 120, r#""peakcaller":"seacr,macs2","normalisation_mode":"Spikein""#),
    ("scrnaseq", "Single-cell RNA-Seq pipeline using Salmon Alevin, STARsolo, Kallisto or Cellranger", "2.7.1", 300, r#""aligner":"star","protocol":"10XV3""#),
    ("smrnaseq", "A small-RNA sequencing analysis pipeline", "2.3.1", 75, r#""mirtrace_species":"hsa","protocol":"illumina""#),
    ("taxprofiler", "Highly parallelised multi-taxonomic profiling of shotgun short- and long-read metagenomic data", "1.1.8", 420, r#""run_kraken2":true,"run_metaphlan":true"#),
    ("rnafusion", "RNA-seq analysis pipeline for detection of gene fusions", "3.0.2", 540, r#""arriba":true,"star_fusion":true"#),
    ("eager", "A fully reproducible and state-of-the-art ancient DNA analysis pipeline", "2.5.1", 600, r#""udg_type":"half","run_bam_filtering":true"#),
    ("fetchngs", "Pipeline to fetch metadata and raw FastQ files from public databases", "1.12.0", 30, r#""download_method":"aspera","nf_core_pipeline":"rnaseq""#),
    ("differentialabundance", "Differential abundance analysis for feature/observation matrices from platforms such as RNA-seq", "1.5.0", 45, r#""study_type":"rnaseq","exploratory_main_variable":"treatment""#),
    ("raredisease", "Call and score variants from WGS/WES of rare disease patients", "2.1.0", 840, r#""analysis_type":"wgs","skip_eklipse":true"#),
    ("funcscan", "Screening of nucleotide sequences such as assembled contigs for functional genes", "1.1.6", 100, r#""run_amp_screening":true,"run_arg_screening":true"#),
    ("proteinfold", "Protein 3D structure prediction pipeline", "1.1.1", 660, r#""mode":"alphafold2","full_dbs":false"#),
    ("nascent", "Nascent Transcription Processing Pipeline", "2.2.0", 160, r#""assay_type":"PROseq","with_umi":false"#),
    ("crisprseq", "Pipeline for the analysis of CRISPR data", "2.2.1", 110, r#""analysis":"screening","mle":true"#),
    ("bacass", "Simple bacterial assembly and annotation pipeline", "2.3.1", 80, r#""assembly_type":"short","annotation_tool":"bakta""#),
];

pub const GENOMES: &[&str] = &["GRCh38", "GRCh37", "GRCm39", "GRCm38", "GRCz11", "TAIR10", "R64-1-1", "BDGP6"];
pub const PROFILES: &[&str] = &["singularity", "docker", "singularity,slurm", "conda", "docker,awsbatch"];
pub const PROJECTS: &[&str] = &["oncology-2026", "microbiome-pilot", "rare-disease", "covid-surveillance", "plant-stress", "zebrafish-dev", "aging-cohort", "crispr-screens"];

pub const FIRST: &[&str] = &["ada", "alan", "barbara", "claude", "dorothy", "edsger", "frances", "grace", "hedy", "ivan", "jean", "katherine", "linus", "margaret", "niklaus", "radia", "rosalind", "sophie", "tim", "yuki"];
pub const LAST: &[&str] = &["lovelace", "turing", "liskov", "shannon", "hodgkin", "dijkstra", "allen", "hopper", "lamarr", "sutherland", "bartik", "johnson", "torvalds", "hamilton", "wirth", "perlman", "franklin", "wilson", "berners", "matsumoto"];

/// Nextflow-style run names: adjective_scientist.
pub const ADJECTIVES: &[&str] = &["admiring", "agitated", "amazing", "angry", "awesome", "backstabbing", "berserk", "big", "boring", "clever", "cocky", "compassionate", "condescending", "cranky", "desperate", "determined", "distracted", "dreamy", "drunk", "ecstatic", "elated", "elegant", "evil", "fervent", "focused", "furious", "gigantic", "gloomy", "goofy", "grave", "happy", "high", "hopeful", "hungry", "infallible", "jolly", "jovial", "kickass", "lonely", "loving", "mad", "modest", "naughty", "nauseous", "nostalgic", "peaceful", "pedantic", "pensive", "prickly", "reverent", "romantic", "sad", "serene", "sharp", "sick", "silly", "sleepy", "small", "stoic", "stupefied", "suspicious", "tender", "thirsty", "tiny", "trusting", "zen"];
pub const SCIENTISTS: &[&str] = &["agnesi", "albattani", "allen", "almeida", "archimedes", "ardinghelli", "aryabhata", "austin", "babbage", "banach", "bardeen", "bartik", "bassi", "bell", "bhabha", "bhaskara", "blackwell", "bohr", "booth", "borg", "bose", "boyd", "brahmagupta", "brattain", "brown", "carson", "chandrasekhar", "colden", "cori", "cray", "curie", "darwin", "davinci", "einstein", "elion", "engelbart", "euclid", "euler", "fermat", "fermi", "feynman", "franklin", "galileo", "gates", "goldberg", "goldstine", "golick", "goodall", "hamilton", "hawking", "heisenberg", "hodgkin", "hoover", "hopper", "hugle", "hypatia", "jang", "jennings", "jepsen", "joliot", "jones", "kalam", "kare", "keller", "khorana", "kilby", "kirch", "knuth", "kowalevski", "lalande", "lamarr", "leakey", "leavitt", "lichterman", "liskov", "lovelace", "lumiere", "mahavira", "mayer", "mccarthy", "mcclintock", "mclean", "mcnulty", "meitner", "meninsky", "mestorf", "minsky", "mirzakhani", "morse", "murdock", "newton", "nobel", "noether", "northcutt", "noyce", "panini", "pare", "pasteur", "payne", "perlman", "pike", "poincare", "poitras", "ptolemy", "raman", "ramanujan", "ride", "ritchie", "roentgen", "rosalind", "saha", "sammet", "shaw", "shirley", "shockley", "sinoussi", "snyder", "spence", "stallman", "stonebraker", "swanson", "swartz", "swirles", "tesla", "thompson", "torvalds", "turing", "varahamihira", "visvesvaraya", "volhard", "wescoff", "williams", "wilson", "wing", "wozniak", "wright", "yalow", "yonath"];

/// Failure messages as Nextflow prints them; `{P}` is the upper-case pipeline, `{S}` a sample.
pub const ERRORS: &[&str] = &[
    "Process `NFCORE_{P}:{P}:FASTQC ({S})` terminated with an error exit status (137): out of memory",
    "Process `NFCORE_{P}:{P}:TRIMGALORE ({S})` terminated with an error exit status (1)",
    "Process `NFCORE_{P}:{P}:ALIGN ({S})` terminated with an error exit status (140): walltime exceeded",
    "Error executing process > 'NFCORE_{P}:{P}:INPUT_CHECK:SAMPLESHEET_CHECK': samplesheet row 7 has a missing fastq_2 path",
    "Process `NFCORE_{P}:{P}:MULTIQC` terminated with an error exit status (1): no such file 'multiqc_config.yml'",
    "Failed to pull singularity image: FATAL: while making image from oci registry: connection reset by peer",
    "Unable to acquire lock on session with ID: the work directory is already used by another run",
    "Execution aborted due to an unexpected error: java.lang.OutOfMemoryError: Java heap space",
];

/// The demo accounts always created first: (username, role, password). Documented in the README.
pub const DEMO_USERS: &[(&str, &str, &str)] = &[
    ("admin", "admin", "admin-demo-pass"),
    ("ada.lovelace", "analyst", "analyst-demo-pass"),
    ("alan.turing", "analyst", "analyst-demo-pass"),
    ("grace.hopper", "analyst", "analyst-demo-pass"),
    ("rosalind.franklin", "viewer", "viewer-demo-pass"),
    ("claude.shannon", "viewer", "viewer-demo-pass"),
];

/// Password of a generated (non-demo) user with this role.
pub fn role_password(role: &str) -> &'static str {
    match role {
        "admin" => "admin-demo-pass",
        "viewer" => "viewer-demo-pass",
        _ => "analyst-demo-pass",
    }
}
