# bash completion for {%.Name%}: its commands and flags, and the job names of
# the stack file (-c, else stack.yml in the current directory). Load it with
#   source <({%.Name%} completion bash)
# or save it as /etc/bash_completion.d/{%.Name%}.

# _jobrun_jobs lists the jobs of the stack files named on the command line.
_jobrun_jobs() {
	local -a files=()
	local i
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		{% join .Files " | " %}) files+=(-c "${COMP_WORDS[i + 1]}") ;;
		esac
	done
	"${COMP_WORDS[0]}" completion jobs "${files[@]}" 2>/dev/null
}

_jobrun() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local cmd= i flags words= jobs=
	COMPREPLY=()
	# The command is the first word that is neither a flag nor a flag's value.
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		{% join .ValueNames " | " %}) ((i++)) ;;
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done
	case $prev in
{%- if .Free %}
	{% join .Free " | " %}) return ;; # any value: nothing to offer
{%- end %}
{%- range .Values %}
	{% join .Names " | " %}) {% .Action %}; return ;;
{%- end %}
	esac
	case $cmd in
{%- range .Commands %}
	{% .Name %}) flags={% sq (names .Flags) %} words={% sq (join .Words " ") %} jobs={% if .Jobs %}1{% end %} ;;
{%- end %}
	*)
		flags={% sq (names .Default.Flags) %} jobs=1
		[[ -z $cmd ]] && words={% sq (join .CommandNames " ") %}
		;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$flags" -- "$cur"))
		return
	fi
	[[ -n $jobs ]] && words+=" $(_jobrun_jobs)"
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
}

complete -F _jobrun {%.Name%}
